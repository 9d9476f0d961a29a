module github.com/asyncftp/asyncftp/bench

go 1.26.8

replace github.com/asyncftp/asyncftp => ../

require (
	github.com/asyncftp/asyncftp v0.0.0-00010101000000-000000000000
	github.com/jlaffaye/ftp v0.2.4
	github.com/panjf2000/gnet/v2 v2.9.7
	golang.org/x/sys v0.50.0
)

require (
	github.com/HdrHistogram/hdrhistogram-go v1.4.0 // indirect
	github.com/looplab/fsm v1.0.3 // indirect
	github.com/panjf2000/ants/v2 v2.11.3 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	go.uber.org/multierr v1.11.0 // indirect
	go.uber.org/zap v1.27.0 // indirect
	goftp.io/server/v2 v2.0.3 // indirect
	golang.org/x/sync v0.11.0 // indirect
	gopkg.in/natefinch/lumberjack.v2 v2.2.1 // indirect
)
