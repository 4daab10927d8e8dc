package sst

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite RESULTS.md with the current per-file numbers")

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
	masked := 0
	var failedFiles []string
	var table strings.Builder
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
		keys := make([]string, 0, len(res.Excluded))
		for k := range res.Excluded {
			keys = append(keys, fmt.Sprintf("%s %d", k, res.Excluded[k]))
		}
		sort.Strings(keys)
		fmt.Fprintf(&table, "| %s | %d | %d | %d | %s |\n", strings.TrimSuffix(res.File, ".json.gz"),
			res.Pass+res.Fail+n, res.Pass, res.Fail, strings.Join(keys, ", "))
		masked += res.Masked
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
	if only != "" {
		return
	}
	var doc strings.Builder
	fmt.Fprintf(&doc, "# SST286 results (generated: go test ./conformance/sst -update)\n\n")
	fmt.Fprintf(&doc, "Total %d tests: %d pass, %d fail, %d excluded by rule.\n\n", total, pass, fail, excl)
	fmt.Fprintf(&doc, "Exclusion rules (see sst.go `Exclusions` for the reasons):\n\n")
	for _, e := range Exclusions {
		if e.ID == "c0-of" {
			fmt.Fprintf(&doc, "- `%s` (a flag mask, not an exclusion: %d tests compared with OF masked, all passing): %s\n", e.ID, masked, e.Reason)
			continue
		}
		fmt.Fprintf(&doc, "- `%s` (%d tests): %s\n", e.ID, exclBy[e.ID], e.Reason)
	}
	fmt.Fprintf(&doc, "\n| file | tests | pass | fail | excluded |\n|---|---|---|---|---|\n%s", table.String())
	const path = "RESULTS.md"
	if *update {
		if err := os.WriteFile(path, []byte(doc.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	old, err := os.ReadFile(path)
	if err != nil || string(old) != doc.String() {
		t.Errorf("%s is stale; regenerate with: go test ./conformance/sst -update", path)
	}
}
