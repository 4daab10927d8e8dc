package repl

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
)

// A schema is a JSON type name ("number", "string", "bool", "null"), an
// object schema (map: every key required), or an array schema: arr{elem}
// (arrNE also requires at least one element).
type arr struct{ elem any }
type arrNE struct{ elem any }

var (
	descSchema = map[string]any{"base": "number", "limit": "number", "attr": "number", "type": "string",
		"type_num": "number", "system": "bool", "dpl": "number", "present": "bool", "db": "bool", "l": "bool",
		"g": "bool", "avl": "bool"}
	segSchema   = merge(descSchema, map[string]any{"selector": "number"})
	flagsSchema = map[string]any{"value": "number", "bits": arr{"string"}}
	insnSchema  = map[string]any{"addr": "number", "bytes": "string", "text": "string"}
	tbSchema    = map[string]any{"id": "number", "pc": "number", "cs_base": "number", "flags": "number",
		"phys_pc": "number", "pages": arrNE{"number"}, "size": "number", "insns": "number", "bits": "number",
		"exec_count": "number", "valid": "bool", "invalidated_by": "string", "gen": "number"}
	descTableSchema = map[string]any{"cpu": "number", "table": "string", "base": "number", "limit": "number",
		"entries": arr{merge(descSchema, map[string]any{"index": "number", "selector": "number", "raw": "number", "null": "bool"})}}
)

func merge(a, b map[string]any) map[string]any {
	m := map[string]any{}
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

var jsonCases = []struct {
	cmd    string // the command line (with -json)
	setup  []string
	schema map[string]any
}{
	{"info pic -json", nil, map[string]any{
		"master": map[string]any{"irr": "number", "isr": "number", "imr": "number", "elcr": "number", "base": "number",
			"lines": "number", "auto_eoi": "bool", "initialised": "bool"},
		"slave": map[string]any{"irr": "number", "isr": "number", "imr": "number", "elcr": "number", "base": "number",
			"lines": "number", "auto_eoi": "bool", "initialised": "bool"}}},
	{"info post -json", []string{"continue"}, map[string]any{"code": "number", "writes": "number"}},
	{"info threads -json", nil, map[string]any{"threads": arrNE{map[string]any{"thread": "number", "goroutine": "number",
		"name": "string", "status": "string", "state": "string", "top": "string"}}}},
	{"info lapic -json", nil, map[string]any{"id": "number", "version": "number", "apic_base": "number", "enabled": "bool",
		"software_enabled": "bool", "tpr": "number", "ppr": "number", "svr": "number", "timer_initial": "number",
		"timer_current": "number", "icr": "number", "esr": "number", "accept_pic": "bool"}},
	{"info ioapic -json", nil, map[string]any{"id": "number", "version": "number", "ioregsel": "number", "lines": "number",
		"remote_irr": "number"}},
	{"info symbol deep_function+3 -json", []string{"symbols load ../symbols/testdata/k32-O1.elf"}, map[string]any{
		"addr": "number", "symbol": "string", "offset": "number", "found": "bool", "text": "string"}},
	{"info line deep_function -json", []string{"symbols load ../symbols/testdata/k32-O1.elf"}, map[string]any{
		"addr": "number", "file": "string", "line": "number", "function": "string", "found": "bool", "text": "string"}},
	{"report crash -json", atBreak, map[string]any{"stop": "string",
		"cpus": arrNE{map[string]any{"cpu": "number", "mode": "string", "pc": "number", "cr2": "number",
			"instruction": "string", "registers": "string"}}}},
	{"info catchpoints -json", []string{"catch tlb-fill 0xfffff000", "catch hlt"}, map[string]any{
		"catchpoints": arrNE{map[string]any{"id": "number", "kind": "string", "arg": "number", "has_arg": "bool",
			"hits": "number"}}}},
	{"info breakpoints -json", []string{"break 0xf0286", "watch -phys 0x500"}, map[string]any{
		"breakpoints": arrNE{map[string]any{"id": "number", "type": "string", "addr": "number", "len": "number",
			"access": "string", "phys": "bool"}}}},
	{"info registers -json", atBreak, map[string]any{"cpu": "number", "mode": "string", "bits": "number", "cpl": "number",
		"halted": "bool", "icount": "number", "a20": "bool",
		"gpr": map[string]any{"rax": "number", "rcx": "number", "rdx": "number", "rbx": "number", "rsp": "number",
			"rbp": "number", "rsi": "number", "rdi": "number", "r8": "number", "r15": "number"},
		"rip": "number", "pc": "number", "rflags": flagsSchema, "iopl": "number",
		"segments": map[string]any{"es": segSchema, "cs": segSchema, "ss": segSchema, "ds": segSchema, "fs": segSchema,
			"gs": segSchema, "ldtr": segSchema, "tr": segSchema},
		"gdtr": map[string]any{"base": "number", "limit": "number"}, "idtr": map[string]any{"base": "number", "limit": "number"},
		"cr0": flagsSchema, "cr2": "number", "cr3": "number", "cr4": flagsSchema, "cr8": "number", "efer": flagsSchema,
		"dr": arrNE{"number"}, "fs_base": "number", "gs_base": "number", "kernel_gs_base": "number", "last_exception": "number"}},
	{"info cpus -json", nil, map[string]any{"cpus": arrNE{map[string]any{"cpu": "number", "current": "bool",
		"state": "string", "mode": "string", "pc": "number", "icount": "number", "halted": "bool", "cpl": "number", "bits": "number"}}}},
	{"info mode -json", atBreak, map[string]any{"cpu": "number", "mode": "string", "bits": "number", "cpl": "number",
		"paging": "string", "pe": "bool", "pg": "bool", "pae": "bool", "pse": "bool", "lme": "bool", "lma": "bool",
		"nxe": "bool", "cr3": "number", "a20": "bool", "if": "bool", "halted": "bool"}},
	{"info gdt -json", atBreak, descTableSchema},
	{"info ldt -json", atBreak, descTableSchema},
	{"info idt -json", atBreak, map[string]any{"cpu": "number", "real_mode": "bool", "base": "number", "limit": "number",
		"not_present": "number", "gates": arrNE{map[string]any{"vector": "number", "name": "string", "type": "string",
			"selector": "number", "offset": "number", "dpl": "number", "present": "bool", "ist": "number", "raw": "number"}}}},
	{"info tss -json", atBreak, map[string]any{"cpu": "number", "selector": "number", "base": "number",
		"limit": "number", "type": "string", "fields": map[string]any{}}},
	{"x/4xw 0x10000 -json", atBreak, map[string]any{"addr": "number", "space": "string", "format": "string",
		"unit": "number", "values": arrNE{"number"}}},
	{"x/2s 0xf090d -json", atBreak, map[string]any{"addr": "number", "space": "string", "format": "string",
		"unit": "number", "strings": arrNE{map[string]any{"addr": "number", "text": "string"}}}},
	{"x/3i $pc -json", atBreak, map[string]any{"addr": "number", "space": "string", "format": "string",
		"unit": "number", "insns": arrNE{insnSchema}}},
	{"xp/2dg 0x11800 -json", atBreak, map[string]any{"addr": "number", "space": "string", "format": "string",
		"unit": "number", "values": arrNE{"number"}}},
	{"disas -json", atBreak, map[string]any{"cpu": "number", "bits": "number", "pc": "number", "insns": arrNE{insnSchema}}},
	{"gva2gpa 0x201000 -json", atBreak, map[string]any{"cpu": "number", "linear": "number", "paging": "string",
		"cr3": "number", "mapped": "bool", "phys": "number", "page_size": "number",
		"steps": arrNE{map[string]any{"level": "string", "addr": "number", "entry": "number", "flags": "string"}}}},
	{"info tlb -json", atBreak, map[string]any{"cpu": "number", "paging": "string", "mappings": arrNE{map[string]any{
		"va": "number", "pa": "number", "size": "number", "entry": "number", "flags": "string"}}}},
	{"info mem -json", atBreak, map[string]any{"cpu": "number", "paging": "string", "ranges": arrNE{map[string]any{
		"start": "number", "end": "number", "size": "number", "prot": "string", "user": "bool", "write": "bool", "exec": "bool"}}}},
	{"info mtree -json", nil, map[string]any{
		"memory": arrNE{map[string]any{"start": "number", "end": "number", "priority": "number", "kind": "string", "name": "string"}},
		"io":     arrNE{map[string]any{"start": "number", "end": "number", "name": "string"}}}},
	{"tb list -all -json", atBreak, map[string]any{"total": "number", "tbs": arrNE{tbSchema}}},
	{"tb show 1 -json", atBreak, merge(tbSchema, map[string]any{"flag_names": "string", "bytes": "string",
		"disassembly": arrNE{insnSchema}, "chained": map[string]any{"exits": arr{map[string]any{"pc": "number", "linked_to": "number"}},
			"linked_from": arr{"number"}}})},
	{"tb show 14 -json", atBreak, merge(tbSchema, map[string]any{"flag_names": "string", "bytes": "string",
		"disassembly": arrNE{insnSchema}, "chained": map[string]any{"exits": arrNE{map[string]any{"pc": "number", "linked_to": "number"}},
			"linked_from": arrNE{"number"}}})},
	{"tb stats -json", atBreak, map[string]any{"valid": "number", "code_pages": "number", "guest_bytes": "number",
		"guest_insns": "number", "avg_bytes": "number", "avg_insns": "number", "max_bytes": "number", "max_insns": "number",
		"invalidated_kept": "number", "lookups": "number", "hits": "number", "generated": "number",
		"invalidated": "number", "flushes": "number", "smc_events": "number", "jump_cache_hits": "number",
		"jump_cache_misses": "number", "links": "number", "chained_entries": "number"}},
	{"info exec-history -json", atBreak, map[string]any{"cpu": "number", "history": arrNE{map[string]any{
		"age": "number", "id": "number", "known": "bool", "pc": "number", "insns": "number", "valid": "bool"}}}},
	{"tlb dump -all -json", atBreak, map[string]any{"cpu": "number", "entries": arrNE{map[string]any{
		"mmu_idx": "number", "slot": "number", "vpage": "number", "ppage": "number", "host": "string", "read": "bool",
		"write": "bool", "exec": "bool", "flags": "string", "page_size": "number", "global": "bool", "user": "bool",
		"hits": "number"}}}},
	{"tlb stats -json", atBreak, map[string]any{"cpu": "number", "valid": "number", "hits": "number", "misses": "number",
		"fills": "number", "flush_all": "number", "flush_nonglobal": "number", "flush_page": "number",
		"notdirty_marks": "number"}},
	{"dirty -json", atBreak, map[string]any{"ranges": arrNE{map[string]any{"start": "number", "end": "number",
		"pages": "number", "code_protected": "bool", "migration_dirty": "bool", "display_dirty": "bool", "has_tbs": "bool"}}}},
	{"dirty map -json", atBreak, map[string]any{"client": "string",
		"legend": map[string]any{"C": "string", "W": "string", ".": "string", " ": "string"},
		"blocks": arrNE{map[string]any{"name": "string", "start": "number", "end": "number", "pages_per_cell": "number",
			"rows": arrNE{map[string]any{"addr": "number", "cells": "string"}}}}}},
	{"dirty stats -json", atBreak, map[string]any{"regions": arrNE{map[string]any{"name": "string", "kind": "string",
		"start": "number", "end": "number", "pages": "number", "code_protected": "number", "migration_dirty": "number",
		"display_dirty": "number", "with_tbs": "number"}}}},
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case float64, json.Number:
		return "number"
	case string:
		return "string"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func checkSchema(path string, v any, schema any) []string {
	var errs []string
	switch s := schema.(type) {
	case string:
		if jsonType(v) != s {
			errs = append(errs, fmt.Sprintf("%s: %s, want %s", path, jsonType(v), s))
		}
	case map[string]any:
		obj, ok := v.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %s, want object", path, jsonType(v))}
		}
		keys := make([]string, 0, len(s))
		for k := range s {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			x, ok := obj[k]
			if !ok {
				errs = append(errs, fmt.Sprintf("%s.%s: missing", path, k))
				continue
			}
			errs = append(errs, checkSchema(path+"."+k, x, s[k])...)
		}
	case arr, arrNE:
		list, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %s, want array", path, jsonType(v))}
		}
		elem := any(nil)
		if a, ok := s.(arr); ok {
			elem = a.elem
		} else {
			elem = s.(arrNE).elem
			if len(list) == 0 {
				errs = append(errs, path+": empty array")
			}
		}
		for i, x := range list {
			errs = append(errs, checkSchema(fmt.Sprintf("%s[%d]", path, i), x, elem)...)
		}
	}
	return errs
}

func TestJSONShapes(t *testing.T) {
	for _, c := range jsonCases {
		t.Run(strings.ReplaceAll(c.cmd, " ", "_"), func(t *testing.T) {
			r, out, _ := demo(t)
			transcript(r, out, c.setup)
			out.Reset()
			if err := r.Exec(c.cmd); err != nil {
				t.Fatalf("%s: %v", c.cmd, err)
			}
			var v any
			decodeOne(t, out.String(), &v)
			for _, e := range checkSchema("$", v, c.schema) {
				t.Error(e)
			}
		})
	}
}

// TestJSONCoversCommands: every command that takes -json has a shape test
// (or is one of the not-yet commands, which fail without printing).
func TestJSONCoversCommands(t *testing.T) {
	tested := map[string]bool{}
	for _, c := range jsonCases {
		toks, _ := tokenize(c.cmd)
		cmd, _, _, err := lookup(toks)
		if err != nil {
			t.Fatalf("%s: %v", c.cmd, err)
		}
		tested[cmd.Name] = true
	}
	for _, c := range Commands() {
		if c.flag("json") == nil || tested[c.Name] {
			continue
		}
		r, out, _ := demo(t)
		err := r.Exec(c.Name + " -json")
		if err == nil || !strings.Contains(err.Error(), "not available yet") || out.Len() != 0 {
			t.Errorf("%s takes -json but has no JSON shape test (err %v)", c.Name, err)
		}
	}
	// and the other way round: every info/dump command takes -json
	for _, c := range Commands() {
		if (strings.HasPrefix(c.Name, "info ") || strings.HasSuffix(c.Name, " stats") || strings.HasSuffix(c.Name, " dump") ||
			strings.HasSuffix(c.Name, " list") || strings.HasSuffix(c.Name, " show")) && c.flag("json") == nil {
			t.Errorf("%s does not take -json", c.Name)
		}
	}
}

// TestJSONErrorsPrintNothing: a failing command prints no partial JSON.
func TestJSONErrorsPrintNothing(t *testing.T) {
	r, out, _ := demo(t)
	transcript(r, out, atBreak)
	for _, l := range []string{"x/4xw 0x500000 -json", "tb show 9999 -json", "info lapic -cpu 7 -json", "gva2gpa -json"} {
		out.Reset()
		if err := r.Exec(l); err == nil {
			t.Errorf("%s: no error", l)
		}
		if out.Len() != 0 {
			t.Errorf("%s printed %q", l, out.String())
		}
	}
}
