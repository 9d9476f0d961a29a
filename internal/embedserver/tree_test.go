package embedserver

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"unicode/utf8"
)

func TestGenerateTreeDeterministic(t *testing.T) {
	a, err := GenerateTree(filepath.Join(t.TempDir(), "a"))
	if err != nil {
		t.Fatal(err)
	}
	dirB := t.TempDir()
	b, err := GenerateTree(dirB)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("two GenerateTree calls differ:\n%v\n%v", a, b)
	}
	// Regenerating over an existing tree gives the same result again.
	c, err := GenerateTree(dirB)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, c) {
		t.Fatal("GenerateTree over an existing tree differs")
	}

	sizes := map[int64]bool{}
	var sawSpace, sawNonASCII, sawDeep, sawEmptyDir bool
	for i, f := range b {
		if i > 0 && b[i-1].Path >= f.Path {
			t.Errorf("not sorted at %q", f.Path)
		}
		full := filepath.Join(dirB, filepath.FromSlash(f.Path))
		fi, err := os.Stat(full)
		if err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		if !fi.ModTime().Equal(SampleModTime()) {
			t.Errorf("%s: mtime %v, want %v", f.Path, fi.ModTime(), SampleModTime())
		}
		if f.Dir != fi.IsDir() {
			t.Errorf("%s: Dir=%v but on disk IsDir=%v", f.Path, f.Dir, fi.IsDir())
		}
		if f.Dir {
			if f.Path == "empty-dir" {
				ents, _ := os.ReadDir(full)
				sawEmptyDir = len(ents) == 0
			}
			continue
		}
		data, err := os.ReadFile(full)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if int64(len(data)) != f.Size || hex.EncodeToString(sum[:]) != f.SHA256 {
			t.Errorf("%s: size/hash on disk differ from the returned File", f.Path)
		}
		sizes[f.Size] = true
		sawSpace = sawSpace || bytes.ContainsRune([]byte(f.Path), ' ')
		sawNonASCII = sawNonASCII || (utf8.ValidString(f.Path) && len(f.Path) != utf8.RuneCountInString(f.Path))
		sawDeep = sawDeep || f.Path == "pub/nested/deeper/deep file.bin"
	}
	for _, want := range []int64{0, 1, 1000, 65535, 65536, 65537, 1 << 20} {
		if !sizes[want] {
			t.Errorf("no file of %d bytes", want)
		}
	}
	if !sawSpace || !sawNonASCII || !sawDeep || !sawEmptyDir {
		t.Errorf("missing shapes: space=%v nonASCII=%v deep=%v emptyDir=%v", sawSpace, sawNonASCII, sawDeep, sawEmptyDir)
	}
	if fileByPath(t, b, "README.txt").Size == 0 {
		t.Error("README.txt is empty")
	}
}

func TestPatternReader(t *testing.T) {
	long, _ := io.ReadAll(PatternReader("seed", 1000))
	short, _ := io.ReadAll(PatternReader("seed", 333))
	if len(long) != 1000 || len(short) != 333 || !bytes.Equal(long[:333], short) {
		t.Fatal("a shorter stream is not a prefix of a longer one")
	}
	other, _ := io.ReadAll(PatternReader("other seed", 1000))
	if bytes.Equal(long, other) {
		t.Fatal("different seeds give the same stream")
	}
	// Random access agrees with sequential reads at every alignment.
	r := PatternReader("seed", 1000)
	for off := int64(0); off < 40; off++ {
		for _, n := range []int{1, 3, 8, 13, 64} {
			buf := make([]byte, n)
			if _, err := r.ReadAt(buf, off); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf, long[off:off+int64(n)]) {
				t.Fatalf("ReadAt(%d, %d) differs", off, n)
			}
		}
	}
	// Pinned value so that a change of the generator is noticed.
	if got := hex.EncodeToString(long[:8]); got != pinnedPatternPrefix {
		t.Fatalf("pattern prefix for \"seed\" = %s, want %s", got, pinnedPatternPrefix)
	}
}

// pinnedPatternPrefix is the first 8 bytes of PatternReader("seed", n).
const pinnedPatternPrefix = "ed79840bf16ffc04"

func TestWriteBigFile(t *testing.T) {
	dir := t.TempDir()
	const size = 3<<20 + 5
	sum, err := WriteBigFile(dir, "big/file.bin", size)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, PatternReader("big/file.bin", size)); err != nil {
		t.Fatal(err)
	}
	if want := hex.EncodeToString(h.Sum(nil)); sum != want {
		t.Fatalf("WriteBigFile sha %s, pattern sha %s", sum, want)
	}
	fi, err := os.Stat(filepath.Join(dir, "big", "file.bin"))
	if err != nil || fi.Size() != size || !fi.ModTime().Equal(SampleModTime()) {
		t.Fatalf("written file: %v, %v", fi, err)
	}
	if _, err := WriteBigFile(dir, "x", -1); err == nil {
		t.Error("negative size accepted")
	}
	if _, err := WriteBigFile(dir, "/", 1); err == nil {
		t.Error("empty name accepted")
	}
}
