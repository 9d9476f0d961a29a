package ftpfs

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/asyncftp/asyncftp/ftp"
)

// TestClassify: what each reply (as real servers word them) becomes, with
// the reply still reachable.
func TestClassify(t *testing.T) {
	cases := []struct {
		code int
		verb string
		msg  string
		want error // nil: no io/fs meaning
	}{
		{550, "RETR", "Failed to open file.", fs.ErrNotExist},                    // vsftpd
		{550, "MLST", "/x: No such file or directory", fs.ErrNotExist},           // proftpd
		{550, "MLST", "lstat /srv/x: no such file or directory", fs.ErrNotExist}, // goftp
		{550, "RETR", "/x: Permission denied", fs.ErrPermission},                 // proftpd
		{550, "RETR", "Can't open x: Permission denied", fs.ErrPermission},       // pure-ftpd
		{550, "STOR", "Access denied", fs.ErrPermission},
		{553, "STOR", "Could not create file.", fs.ErrPermission},
		{530, "LIST", "Please login with USER and PASS.", fs.ErrPermission},
		{532, "STOR", "Need account for storing files.", fs.ErrPermission},
		{450, "SIZE", "path /x not found", fs.ErrNotExist},  // goftp
		{551, "RETR", "File not available", fs.ErrNotExist}, // goftp
		{451, "RETR", "Local error in processing", nil},
		{421, "RETR", "Timeout.", nil},
		{500, "MLST", "Unknown command.", nil},
		{425, "LIST", "Can't open data connection.", nil},
		{502, "REST", "REST not implemented", errors.ErrUnsupported},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.code, " ", c.msg), func(t *testing.T) {
			orig := &ftp.Error{Code: c.code, Verb: c.verb, Msg: c.msg}
			err := pathErr("open", "x", &ftp.TransferError{Verb: c.verb, Err: orig})
			for _, k := range []error{fs.ErrNotExist, fs.ErrPermission, errors.ErrUnsupported} {
				if errors.Is(err, k) != (k == c.want) {
					t.Errorf("errors.Is(%v, %v) = %v", err, k, !(k == c.want))
				}
			}
			var fe *ftp.Error
			if !errors.As(err, &fe) || fe != orig {
				t.Errorf("%v: the *ftp.Error is not reachable", err)
			}
		})
	}
	if err := pathErr("open", "x", fmt.Errorf("wrapped: %w", ftp.ErrInvalidArgument)); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("an argument FTP cannot send: %v", err)
	}
}
