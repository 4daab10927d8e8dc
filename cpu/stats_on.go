//go:build !glassbox_nostats

package cpu

// statsOn keeps the always-on execution statistics (TLB hit counters, TB
// execution counts, jump-cache and chaining counters) and the exec-history
// ring buffer. Building with -tags glassbox_nostats compiles them out; that
// build exists only to measure what they cost (README, "Measured
// performance").
const statsOn = true
