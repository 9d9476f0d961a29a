package main_test

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/internal/leanserver"
	"github.com/asyncftp/asyncftp/swarm"
)

// manifestArgs returns the arguments that every pod of docs/distributed.md's
// Indexed Job runs, with each $(VAR) replaced from vars.
func manifestArgs(t *testing.T, vars map[string]string) []string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "distributed.md"))
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(doc), "\n") {
		if s := strings.TrimSpace(l); strings.HasPrefix(s, "args: [") {
			if line != "" {
				t.Fatal("docs/distributed.md has more than one args: line")
			}
			line = strings.TrimPrefix(s, "args: ")
		}
	}
	var args []string
	if err := json.Unmarshal([]byte(line), &args); err != nil {
		t.Fatalf("the manifest's args line %q is not a flow list: %v", line, err)
	}
	ref := regexp.MustCompile(`\$\(([A-Z_]+)\)`)
	for i, a := range args {
		args[i] = ref.ReplaceAllStringFunc(a, func(m string) string {
			v, ok := vars[m[2:len(m)-1]]
			if !ok {
				t.Fatalf("the manifest uses %s, which the test does not set", m)
			}
			return v
		})
	}
	return args
}

// swarmJSON runs asyncftp with args and decodes the one JSON object it prints.
func swarmJSON(t *testing.T, dir string, args ...string) swarm.Stats {
	t.Helper()
	r := run(t, dir, nil, args...)
	if r.code != 0 {
		t.Fatalf("asyncftp %q: %s", args, r)
	}
	var st swarm.Stats
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("asyncftp %q printed no JSON: %v\n%s", args, err, r)
	}
	return st
}

// TestDistributedManifest runs the command of docs/distributed.md's Indexed
// Job the way the Job does: four processes side by side, segments 0/4 … 3/4 of
// one run against one server, then 'asyncftp swarm merge' of their outputs, and
// compares the merge with one process running the same command whole.
func TestDistributedManifest(t *testing.T) {
	srv, err := leanserver.Start(leanserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	vars := map[string]string{
		"RUN_ID": "ci-run", "TARGET": "ftp://bench:secret@" + srv.Addr + "/",
		"SESSIONS": "302", "CONCURRENCY": "30", "RATE": "3000",
		// One timetable for the four processes, a second ahead.
		"START_AT": time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano),
	}
	outs := make([]string, 4)
	var wg sync.WaitGroup
	for i := range outs {
		v := maps(vars, "JOB_COMPLETION_INDEX", string(rune('0'+i)))
		args := manifestArgs(t, v)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := run(t, dir, nil, args...)
			if r.code != 0 {
				t.Errorf("segment %d: %s", i, r)
			}
			outs[i] = filepath.Join(dir, "segment-"+string(rune('0'+i))+".json")
			if err := os.WriteFile(outs[i], []byte(r.stdout), 0o600); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	merged := swarmJSON(t, dir, append([]string{"swarm", "merge", "--json"}, outs...)...)

	// The same command, whole: without --segment.
	whole := manifestArgs(t, maps(maps(vars, "JOB_COMPLETION_INDEX", "0"), "START_AT", ""))
	i := slices.Index(whole, "--segment")
	whole = slices.Delete(whole, i, i+2)
	single := swarmJSON(t, dir, whole...)

	if merged.Run != single.Run || merged.Jobs != 302 || merged.Sessions != 302 || merged.OK != 302 || merged.Failed != 0 ||
		merged.Bytes != single.Bytes || merged.Bytes != 302*(int64(len(leanserver.Listing))+1024) || len(merged.Errors) != 0 {
		t.Fatalf("merged run %s: %d jobs, %d sessions, %d ok, %d failed, %d bytes, errors %v; single run %s: %d ok, %d bytes",
			merged.Run, merged.Jobs, merged.Sessions, merged.OK, merged.Failed, merged.Bytes, merged.Errors, single.Run, single.OK, single.Bytes)
	}
	for _, l := range []swarm.Latency{merged.Connect, merged.Login, merged.Total} {
		if l.Count != 302 || l.P50 <= 0 || l.P50 > l.P90 || l.P90 > l.P99 || l.P99 > l.P999 || l.Hist.Count() != 302 {
			t.Fatalf("merged latency %+v", l)
		}
	}

	// The table form prints the same counts.
	r := run(t, dir, nil, append([]string{"swarm", "merge"}, outs...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "sessions 302  ok 302  failed 0") {
		t.Fatalf("merge as a table: %s", r)
	}

	// Refusals name the file and the reason, with exit code 2.
	other := manifestArgs(t, maps(maps(vars, "JOB_COMPLETION_INDEX", "1"), "RUN_ID", "another-run"))
	otherOut := filepath.Join(dir, "other.json")
	if r := run(t, dir, nil, other...); r.code != 0 {
		t.Fatalf("other run: %s", r)
	} else if err := os.WriteFile(otherOut, []byte(r.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		files []string
		say   []string
	}{
		{[]string{outs[0], otherOut, outs[2], outs[3]}, []string{"other.json", "different runs"}},
		{[]string{outs[0], outs[1], outs[1], outs[2], outs[3]}, []string{"segment-1.json", "overlapping", "segment 1/4 is also part 1"}},
		{[]string{outs[0], outs[1], outs[3]}, []string{"missing", "no results for 2/4"}},
	} {
		r := run(t, dir, nil, append([]string{"swarm", "merge"}, c.files...)...)
		if r.code != 2 {
			t.Errorf("merge %v: %s", c.files, r)
		}
		for _, s := range c.say {
			if !strings.Contains(r.stderr, s) {
				t.Errorf("merge %v: stderr does not say %q: %s", c.files, s, r)
			}
		}
	}
}

func maps(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range m {
		if a != k {
			out[a] = b
		}
	}
	return out
}

// TestSwarmSources: --source spreads the sessions over two loopback
// addresses; the server sees both.
func TestSwarmSources(t *testing.T) {
	var mu sync.Mutex
	from := map[string]int{}
	srv, err := leanserver.Start(leanserver.Options{Accepted: func(ctrl, data net.Conn) {
		c := ctrl
		if data != nil {
			c = data
		}
		mu.Lock()
		from[c.RemoteAddr().(*net.TCPAddr).IP.String()]++
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	r := run(t, t.TempDir(), nil, "swarm", "-n", "20", "--source", "127.0.0.2,127.0.0.3", "--cmd", "LIST", "ftp://u:p@"+srv.Addr+"/")
	if r.code != 0 || !strings.Contains(r.stdout, "ok 20") {
		t.Fatalf("%s", r)
	}
	mu.Lock()
	defer mu.Unlock()
	// Ten sessions from each, each a control and a data connection.
	if from["127.0.0.2"] != 20 || from["127.0.0.3"] != 20 || len(from) != 2 {
		t.Fatalf("connections from %v, want 20 from each of 127.0.0.2 and 127.0.0.3", from)
	}
	if r := run(t, t.TempDir(), nil, "swarm", "--source", "nowhere", "ftp://127.0.0.1:1/"); r.code != 2 {
		t.Fatalf("--source nowhere: %s", r)
	}
	for _, bad := range [][]string{{"--segment", "4/4"}, {"--segment", "1"}, {"--start-at", "tomorrow"}, {"-c", "2", "--segment", "3/4"}} {
		args := append(append([]string{"swarm"}, bad...), "ftp://127.0.0.1:1/")
		if r := run(t, t.TempDir(), nil, args...); r.code != 2 {
			t.Errorf("%v: %s", bad, r)
		}
	}
}
