package sst

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestSST286 runs every file of the hardware-captured 80286 suite. It fails
// on any non-excluded mismatch and logs pass/fail/excluded per file.
func TestSST286(t *testing.T) {
	dir, err := Dir()
	if err != nil {
		t.Skipf("SingleStepTests data not available: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json.gz"))
	if len(files) == 0 {
		t.Fatalf("no *.json.gz in %s", dir)
	}
	sort.Strings(files)
	only := os.Getenv("SST_ONLY")
	r := NewRunner()
	total, pass, fail, excl := 0, 0, 0, 0
	exclBy := map[string]int{}
	var failedFiles []string
	for _, f := range files {
		if only != "" && !strings.HasPrefix(filepath.Base(f), only) {
			continue
		}
		res, err := r.RunFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for k, v := range res.Excluded {
			n += v
			exclBy[k] += v
		}
		total += res.Pass + res.Fail + n
		pass += res.Pass
		fail += res.Fail
		excl += n
		if res.Fail > 0 {
			failedFiles = append(failedFiles, res.File)
			t.Errorf("%s: %d pass, %d FAIL, %d excluded", res.File, res.Pass, res.Fail, n)
			for _, s := range res.Failures {
				t.Logf("    %s", s)
			}
		} else {
			t.Logf("%s: %d pass, %d excluded %v", res.File, res.Pass, n, res.Excluded)
		}
	}
	t.Logf("SST286 total %d: %d pass, %d fail, %d excluded %v; files with failures: %v", total, pass, fail, excl, exclBy, failedFiles)
}
