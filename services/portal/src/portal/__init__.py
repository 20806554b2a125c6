"""PAHT portal: the web channel (citizen site) and the staff consoles, talking to the services' HTTP APIs."""
