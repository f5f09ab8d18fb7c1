// qmail-remote-httpd: the HTTP gateway's entry point. Everything is in
// GatewayCommand.swift; this file only starts it.

GatewayCommand.main()
