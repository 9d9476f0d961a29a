module github.com/asyncftp/asyncftp/bench

go 1.26.8

replace github.com/asyncftp/asyncftp => ../

require github.com/jlaffaye/ftp v0.2.4 // indirect
