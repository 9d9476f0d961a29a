package transcript

import "testing"

func TestMask(t *testing.T) {
	tests := []struct{ in, want string }{
		{"PASS secret", "PASS ****"},
		{"pass secret", "pass ****"},
		{"Pass secret", "Pass ****"},
		{"pAsS secret", "pAsS ****"},
		{"PASS   several words of secret  ", "PASS ****"},
		{"PASS\tsecret", "PASS ****"},
		{"PASS\x00secret", "PASS ****"},
		{"  PASS secret", "  PASS ****"},
		{"PASS a", "PASS ****"},
		{"PASS ", "PASS ****"},
		{"ACCT dept-42", "ACCT ****"},
		{"acct dept-42", "acct ****"},
		{"PASS", "PASS"},
		{"pass", "pass"},
		{"ACCT", "ACCT"},
		{"PASS ****", "PASS ****"},
		{"USER anonymous", "USER anonymous"},
		{"USER PASS secret", "USER PASS secret"},
		{"SITE PASSWD secret", "SITE PASSWD secret"},
		{"RETR pass secret.txt", "RETR pass secret.txt"},
		{"PASSWD secret", "PASSWD secret"},
		{"ACCTS x", "ACCTS x"},
		{"PAS", "PAS"},
		{"", ""},
		{"NOOP\r\nPASS secret", "NOOP\r\nPASS ****"},
		{"PASS one\r\nPASS two\nUSER x\rACCT three", "PASS ****\r\nPASS ****\nUSER x\rACCT ****"},
		{"NOOP\r\nNOOP", "NOOP\r\nNOOP"},
		{"PASS secret\r\n", "PASS ****\r\n"},
	}
	for _, tt := range tests {
		if got := Mask(tt.in); got != tt.want {
			t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := Mask(tt.want); got != tt.want {
			t.Errorf("Mask not idempotent: Mask(%q) = %q", tt.want, got)
		}
	}
}

func TestMaskDoesNotAllocateForOrdinaryLines(t *testing.T) {
	for _, line := range []string{"USER anonymous", "RETR file.txt", "PASS ****", "NOOP\r\nNOOP"} {
		if n := testing.AllocsPerRun(100, func() { _ = Mask(line) }); n != 0 {
			t.Errorf("Mask(%q) allocates %v times, want 0", line, n)
		}
	}
}

func FuzzMask(f *testing.F) {
	for _, s := range []string{"PASS x", "pass", "ACCT  y", "USER a\r\nPASS b", "\xffPASS c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := Mask(s)
		if Mask(m) != m {
			t.Errorf("Mask not idempotent on %q: %q then %q", s, m, Mask(m))
		}
	})
}

func TestDirString(t *testing.T) {
	for d, want := range map[Dir]string{Client: "C", Server: "S", Note: "#", 0: "Dir(0)", 'X': "Dir(88)"} {
		if got := d.String(); got != want {
			t.Errorf("Dir(%d).String() = %q, want %q", byte(d), got, want)
		}
	}
}
