package states_test

import (
	"os"
	"testing"

	"github.com/asyncftp/asyncftp/states"
)

// TestDiagramIsCurrent fails when docs/states.md no longer matches the table:
// run `go generate ./states` and commit the result.
func TestDiagramIsCurrent(t *testing.T) {
	want, err := states.Markdown()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../docs/states.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatal("docs/states.md is stale: run `go generate ./states`")
	}
	dot, err := states.Graphviz()
	if err != nil {
		t.Fatal(err)
	}
	gotDot, err := os.ReadFile("../docs/states.dot")
	if err != nil {
		t.Fatal(err)
	}
	if string(gotDot) != dot {
		t.Fatal("docs/states.dot is stale: run `go generate ./states`")
	}
}
