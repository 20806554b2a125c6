// Progressive enhancement only: every page works without it.
//  - the report form: files upload as soon as they are chosen (with a progress bar), the form then carries
//    their ids and upload tokens in hidden fields; "Dùng vị trí của tôi" fills the coordinates;
//  - a sent form cannot be sent twice by a double click.
"use strict";

(function () {
  const form = document.getElementById("bieu-mau-phan-anh");
  if (!form) {
    return;
  }
  const csrf = form.querySelector("input[name=csrf_token]").value;
  const list = document.getElementById("tep-da-tai");
  const status = document.getElementById("tien-do-tai-len");
  let uploading = 0;

  const summary = document.getElementById("loi-bieu-mau");
  if (summary) {
    summary.focus();
  }

  function hidden(name, value) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    return input;
  }

  function upload(file) {
    const item = document.createElement("li");
    const label = document.createElement("span");
    label.textContent = file.name + " — đang tải lên ";
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", "Tiến độ tải lên " + file.name);
    item.append(label, bar);
    list.append(item);
    uploading += 1;

    const body = new FormData();
    body.append("file", file);
    const request = new XMLHttpRequest();
    request.open("POST", "/tai-len");
    request.setRequestHeader("X-CSRF-Token", csrf);
    request.responseType = "json";
    request.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) {
        bar.value = Math.round((event.loaded / event.total) * 100);
      }
    });
    request.addEventListener("loadend", function () {
      uploading -= 1;
      bar.remove();
      const answer = request.response || {};
      if (request.status === 201 && answer.id) {
        label.textContent = answer.name + " — đã tải lên ";
        item.append(hidden("media", answer.id + ":" + answer.token), hidden("media_name", answer.name));
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "link-dark";
        remove.textContent = "Bỏ tệp";
        remove.addEventListener("click", function () { item.remove(); });
        item.append(remove);
        status.textContent = "Đã tải lên " + answer.name + ".";
      } else {
        item.className = "field-error";
        label.textContent = file.name + ": " + (answer.error || "chưa tải lên được, vui lòng thử lại.");
        status.textContent = label.textContent;
      }
    });
    request.send(body);
  }

  form.querySelectorAll("input[type=file][data-upload]").forEach(function (input) {
    input.addEventListener("change", function () {
      Array.from(input.files).forEach(upload);
      input.value = ""; // uploaded already: not sent again with the form
    });
  });

  let sent = false;
  window.addEventListener("pageshow", function () { sent = false; }); // back to the form: it may be sent again
  form.addEventListener("submit", function (event) {
    if (uploading > 0) {
      event.preventDefault();
      status.textContent = "Vui lòng chờ tải tệp lên xong rồi bấm “Gửi phản ánh”.";
      return;
    }
    if (sent) {
      event.preventDefault(); // a double click: the first post is on its way
      return;
    }
    sent = true;
    form.querySelector("button[type=submit]").setAttribute("aria-disabled", "true");
  });

  const locate = document.getElementById("vi-tri-cua-toi");
  const locateStatus = document.getElementById("vi-tri-trang-thai");
  if (locate && navigator.geolocation) {
    locate.hidden = false;
    locate.addEventListener("click", function () {
      locateStatus.textContent = "Đang xác định vị trí…";
      navigator.geolocation.getCurrentPosition(
        function (position) {
          document.getElementById("location-lat").value = position.coords.latitude.toFixed(6);
          document.getElementById("location-lon").value = position.coords.longitude.toFixed(6);
          locateStatus.textContent = "Đã điền tọa độ vị trí hiện tại của bạn.";
        },
        function () {
          locateStatus.textContent = "Không lấy được vị trí. Vui lòng chọn phường/xã hoặc nhập tọa độ.";
        },
        { enableHighAccuracy: true, timeout: 15000 }
      );
    });
  }
})();
