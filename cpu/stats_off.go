//go:build glassbox_nostats

package cpu

// statsOn: see stats_on.go. This build has no execution statistics and no
// exec history; it exists only to measure their cost.
const statsOn = false
