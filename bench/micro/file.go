package micro

import "os"

func newFile(fd int) *os.File { return os.NewFile(uintptr(fd), "socketpair") }

// quiet keeps gnet from logging.
type quiet struct{}

func (quiet) Debugf(string, ...any) {}
func (quiet) Infof(string, ...any)  {}
func (quiet) Warnf(string, ...any)  {}
func (quiet) Errorf(string, ...any) {}
func (quiet) Fatalf(string, ...any) {}
