package repl

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestDocs fails when docs/commands.md does not match the command table.
// Regenerate it with `go test ./repl -run TestDocs -update` (or
// `go generate ./repl`).
func TestDocs(t *testing.T) {
	var b bytes.Buffer
	if err := WriteDocs(&b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "docs", "commands.md")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: generate it with `go test ./repl -run TestDocs -update`", err)
	}
	if !bytes.Equal(have, b.Bytes()) {
		t.Fatalf("docs/commands.md is stale: regenerate it with `go test ./repl -run TestDocs -update` "+
			"(or `go generate ./repl`)\n%s", diff(string(have), b.String()))
	}
}
