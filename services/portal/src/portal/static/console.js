// Staff consoles: comfort only, every form works without it.
"use strict";

// Forms that hand a report away ask once more before they go.
document.querySelectorAll("form[data-confirm]").forEach((form) => {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
});

// The emergency flag colours the whole call form, so nobody misses that it is on (or off).
const callForm = document.getElementById("call-form");
const emergency = document.getElementById("emergency");
if (callForm && emergency) {
  const show = () => callForm.classList.toggle("is-emergency", emergency.checked);
  emergency.addEventListener("change", show);
  show();
}

// A form is sent once: a second click while the first is on its way would only wait for the same answer.
document.querySelectorAll("form[method=post]").forEach((form) => {
  form.addEventListener("submit", (event) => {
    if (event.defaultPrevented) return;
    form.querySelectorAll("button[type=submit]").forEach((button) => { button.disabled = true; });
  });
});
// …and usable again when the browser brings the page back from its history.
window.addEventListener("pageshow", () => {
  document.querySelectorAll("button[type=submit]:disabled").forEach((button) => { button.disabled = false; });
});
