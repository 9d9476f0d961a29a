package listing_test

import (
	"fmt"
	"time"

	"github.com/asyncftp/asyncftp/listing"
)

func ExampleParse() {
	body := []byte("total 8\r\n" +
		"drwxr-xr-x   2 ftp      ftp          4096 Mar  3 17:01 pub\r\n" +
		"-rw-r--r--   1 ftp      ftp          1234 Dec 24  2019 read me.txt\r\n" +
		"lrwxrwxrwx   1 ftp      ftp             3 Mar  3 17:01 www -> pub\r\n" +
		"01-16-02  11:14AM                  280 setup.exe\r\n" +
		"something else entirely\r\n")
	now := time.Date(2024, time.June, 15, 12, 0, 0, 0, time.UTC)

	res := listing.Parse(body, now)
	for _, e := range res.Entries {
		fmt.Printf("%-4s %-4s %5d %s %q", e.Format, e.Type, e.Size, e.Time.Format("2006-01-02 15:04"), e.Name)
		if e.Target != "" {
			fmt.Printf(" -> %q", e.Target)
		}
		fmt.Println()
	}
	for _, bad := range res.Bad {
		fmt.Println(bad)
	}
	// Output:
	// unix dir   4096 2024-03-03 17:01 "pub"
	// unix file  1234 2019-12-24 00:00 "read me.txt"
	// unix link     3 2024-03-03 17:01 "www" -> "pub"
	// dos  file   280 2002-01-16 11:14 "setup.exe"
	// listing: unknown listing format (line 6: "something else entirely")
}
