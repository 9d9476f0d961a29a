//go:build race

package main_test

// raceEnabled makes TestMain build the binary with -race too, so that the
// commands' own goroutines (mirror's workers, the progress bar) are checked.
const raceEnabled = true
