//go:build race

package repl

func init() { raceBuild = true }
