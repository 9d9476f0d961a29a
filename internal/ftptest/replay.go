package ftptest

import (
	"fmt"
	"strings"
)

// A ReplayLine is one line of a recorded control-connection transcript.
type ReplayLine struct {
	// Dir is 'C' for a line the client sent or 'S' for one the server sent.
	Dir byte
	// Line is the line without its CRLF.
	Line string
}

// Replay turns a recorded transcript into a Script: a 'C' line becomes
// Expect(line), except that a PASS line becomes ExpectPrefix("PASS ")
// because transcripts may mask passwords ("PASS ****"); an 'S' line becomes
// Reply(line), except that a 227 or 229 reply becomes PassivePASV or
// PassiveEPSV so that the advertised port is one the server listens on
// (data connections themselves are not replayed: the listener is never
// accepted on). Replay panics on any other Dir.
func Replay(lines []ReplayLine) Script {
	script := make(Script, 0, len(lines))
	for i, l := range lines {
		switch l.Dir {
		case 'C':
			if len(l.Line) >= 5 && strings.EqualFold(l.Line[:5], "PASS ") {
				script = append(script, ExpectPrefix(l.Line[:5]))
			} else {
				script = append(script, Expect(l.Line))
			}
		case 'S':
			switch {
			case strings.HasPrefix(l.Line, "227 "):
				script = append(script, PassivePASV())
			case strings.HasPrefix(l.Line, "229 "):
				script = append(script, PassiveEPSV())
			default:
				script = append(script, Reply(l.Line))
			}
		default:
			panic(fmt.Sprintf("ftptest.Replay: line %d has Dir %q, want 'C' or 'S'", i, l.Dir))
		}
	}
	return script
}
