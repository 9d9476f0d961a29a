package ftpfs

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/asyncftp/asyncftp/ftp"
)

// pathErr wraps err, classified, in an *fs.PathError.
func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: classify(err)}
}

// classify adds the io/fs error a failure means (fs.ErrNotExist,
// fs.ErrPermission, fs.ErrInvalid) in front of err, keeping err (and the
// *ftp.Error in it) reachable.
func classify(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission), errors.Is(err, fs.ErrInvalid):
		return err
	case errors.Is(err, ftp.ErrInvalidArgument):
		return fmt.Errorf("%w: %w", fs.ErrInvalid, err)
	}
	var re *ftp.Error
	if !errors.As(err, &re) {
		return err
	}
	if re.Verb == "REST" && re.Code/100 == 5 {
		return fmt.Errorf("%w: %w: seeking needs REST: %w", errors.ErrUnsupported, ftp.ErrUnsupported, err)
	}
	if kind := replyKind(re); kind != nil {
		return fmt.Errorf("%w: %w", kind, err)
	}
	return err
}

// replyKind says what a failure reply means to io/fs, or nil. Servers say
// "missing" and "forbidden" with the same 550, so the text decides between
// them: vsftpd "Failed to open file.", pure-ftpd "Can't open ...: No such
// file or directory" or "Permission denied", proftpd "...: Permission
// denied", goftp "lstat ...: no such file or directory".
func replyKind(re *ftp.Error) error {
	msg := strings.ToLower(re.Msg)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(msg, w) {
				return true
			}
		}
		return false
	}
	switch {
	case re.Code == 530, re.Code == 532, re.Code == 553:
		return fs.ErrPermission // not logged in, no account, name not allowed
	case re.Code/100 >= 4 && has("permission denied", "access denied", "not allowed", "operation not permitted"):
		return fs.ErrPermission
	case re.Code == 550:
		return fs.ErrNotExist
	case (re.Code == 450 || re.Code == 451 || re.Code == 551) &&
		has("no such file", "not found", "does not exist", "not available", "failed to open"):
		return fs.ErrNotExist
	}
	return nil
}
