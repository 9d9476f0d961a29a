package embedserver
import ("testing";"time";"io";"crypto/sha256";"os";"path/filepath")
func TestZZBig(t *testing.T){
	buf := make([]byte, 1<<20)
	st:=time.Now(); io.CopyBuffer(io.Discard, PatternReader("x", 256<<20), buf); t.Log("pattern", time.Since(st))
	h := sha256.New(); st=time.Now(); for i:=0;i<256;i++ { h.Write(buf) }; t.Log("sha", time.Since(st))
	f,_ := os.Create(filepath.Join(t.TempDir(),"f")); st=time.Now(); for i:=0;i<256;i++ { f.Write(buf) }; f.Close(); t.Log("disk", time.Since(st))
}
