// Command statediagram writes docs/states.md (a Mermaid state diagram) and
// docs/states.dot (Graphviz) from the looplab/fsm table in package states, so
// the pictures can never drift from the code. Run it with `go generate ./states`.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/asyncftp/asyncftp/states"
)

func main() {
	md := flag.String("md", "docs/states.md", "Markdown output")
	dot := flag.String("dot", "docs/states.dot", "Graphviz output")
	flag.Parse()
	m, err := states.Markdown()
	if err != nil {
		fail(err)
	}
	d, err := states.Graphviz()
	if err != nil {
		fail(err)
	}
	if err := os.WriteFile(*md, []byte(m), 0o644); err != nil {
		fail(err)
	}
	if err := os.WriteFile(*dot, []byte(d), 0o644); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "statediagram:", err)
	os.Exit(1)
}
