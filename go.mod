module glassbox

go 1.26.8

require (
	github.com/ergochat/readline v0.1.3 // indirect
	github.com/go-delve/delve v1.27.2 // indirect
	golang.org/x/arch v0.32.0 // indirect
	golang.org/x/sys v0.46.0 // indirect
	golang.org/x/telemetry v0.0.0-20241106142447-58a1122356f5 // indirect
	golang.org/x/text v0.40.0 // indirect
)
