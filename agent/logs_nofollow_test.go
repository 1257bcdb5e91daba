package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A task that writes its log directory cannot make the agent serve a
// host file as its log by planting a link in place of a log file.
func TestOpenLogRefusesPlantedLink(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(secret, []byte("root:secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "web.stdout.0")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	if f, err := openLog(link); err == nil {
		f.Close()
		t.Fatal("openLog followed a symbolic link")
	}
	var sb strings.Builder
	if n, err := copyFrom(&sb, link, 0); err == nil || n != 0 || sb.Len() != 0 {
		t.Fatalf("copyFrom through a link: %d bytes, %v", n, err)
	}
}
