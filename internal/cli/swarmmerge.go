package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/asyncftp/asyncftp/swarm"
)

func init() {
	register(&command{
		name:    "merge",
		parent:  "swarm",
		args:    "FILE...",
		summary: "add up the --json results of a run's segments",
		help: `
Read the --json output of every segment of one distributed swarm (asyncftp
swarm --segment I/N --run-id ID --json ...), one file per segment, check that
they are the N segments of one run, and print the whole run's statistics:
sessions, ok, failed, errors by kind and bytes summed; percentiles from the
merged histograms (the percentiles of every session's timings together, within
0.1%); the exact maximum; the longest wall time. With --json, the same JSON
object as a swarm's, which merges again.

A file may hold other lines (kubectl logs mixes in standard error): the one
line that is a JSON object is read. Files of another run (another --run-id,
URL, -n, --cmd, -c, --rate or --hold), of a different N, the same segment
twice, a missing segment or a file whose sessions do not add up are refused
(exit code 2), naming the file.

Examples:
  asyncftp swarm merge segment-0.json segment-1.json segment-2.json segment-3.json
  asyncftp swarm merge --json segment-*.json > run.json`,
		minArgs:  1,
		maxArgs:  -1,
		complete: []argKind{argLocalFile},
		flags:    mergeFlags,
	})
}

func mergeFlags(f *pflag.FlagSet) runFunc {
	var asJSON bool
	f.BoolVar(&asJSON, "json", false, "print the merged statistics as one JSON object, histograms included")
	return func(ctx context.Context, e *Env, files []string) error {
		parts := make([]swarm.Stats, len(files))
		for i, name := range files {
			st, err := readStats(name)
			if err != nil {
				return usageErrorf("%s: %v", name, err)
			}
			parts[i] = st
		}
		st, err := swarm.Merge(parts...)
		var me *swarm.MergeError
		if errors.As(err, &me) {
			if me.Part >= 0 {
				return usageErrorf("%s: %v", files[me.Part], err)
			}
			return usageErrorf("%v", err)
		}
		if err != nil {
			return err
		}
		return printStats(e.Stdout, st, asJSON)
	}
}

// readStats reads the one line of a file that is a JSON object: a swarm's
// --json output, perhaps among log lines.
func readStats(name string) (swarm.Stats, error) {
	f, err := os.Open(name)
	if err != nil {
		return swarm.Stats{}, err
	}
	defer f.Close()
	var st swarm.Stats
	found := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20) // a line holds three encoded histograms
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		if found++; found > 1 {
			return swarm.Stats{}, fmt.Errorf("more than one JSON object: one segment's output per file")
		}
		if err := json.Unmarshal(line, &st); err != nil {
			return swarm.Stats{}, fmt.Errorf("not a swarm's --json output: %v", err)
		}
	}
	if err := sc.Err(); err != nil {
		return swarm.Stats{}, err
	}
	if found == 0 {
		return swarm.Stats{}, fmt.Errorf("no JSON object: not a swarm's --json output")
	}
	if st.Run == "" {
		return swarm.Stats{}, fmt.Errorf("no run fingerprint: not a swarm's --json output")
	}
	return st, nil
}
