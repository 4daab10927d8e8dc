package guestbuild_test

import (
	"bytes"
	"encoding/binary"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"glassbox/internal/guestbuild"
)

var update = flag.Bool("update", false, "record QEMU's output into guests/*/expected.txt and expected_status")

// Guests lists every guest under guests/ with its recorded QEMU run.
var guests = []string{"demo", "mb32hello", "cputest32", "systest32", "realmode", "longmode64", "smp", "crash", "tasks", "tasks16", "v86", "pcplat32", "bench", "fp32", "fp64", "dbgregs32"}

// Lines whose content legitimately differs between CPUs (and QEMU versions).
var volatilePrefixes = []string{"cpuid:"}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	guestbuild.Cleanup()
	os.Exit(code)
}

// TestBuild builds every guest with the tools a fresh machine has and checks
// the images are what the loaders expect.
func TestBuild(t *testing.T) {
	for _, name := range guests {
		t.Run(name, func(t *testing.T) {
			img := guestbuild.Build(t, name)
			data, err := os.ReadFile(img)
			if err != nil {
				t.Fatal(err)
			}
			switch filepath.Ext(img) {
			case ".rom":
				checkROM(t, data)
			case ".elf":
				checkMultibootELF(t, data)
			default:
				t.Fatalf("unexpected image %s", img)
			}
		})
	}
}

func checkROM(t *testing.T, rom []byte) {
	t.Helper()
	if len(rom) != 64<<10 {
		t.Fatalf("ROM is %d bytes, want 65536", len(rom))
	}
	// The reset vector (ROM offset 0xFFF0) must be a far JMP into F000.
	if rom[0xFFF0] != 0xEA || binary.LittleEndian.Uint16(rom[0xFFF3:]) != 0xF000 {
		t.Fatalf("reset vector is % x, want EA xx xx 00 F0", rom[0xFFF0:0xFFF5])
	}
}

func checkMultibootELF(t *testing.T, elf []byte) {
	t.Helper()
	if len(elf) < 52 || !bytes.Equal(elf[:4], []byte("\x7fELF")) || elf[4] != 1 || binary.LittleEndian.Uint16(elf[18:]) != 3 {
		t.Fatal("not an ELF32 i386 image")
	}
	// The multiboot v1 header must be 4-byte aligned in the first 8 KiB.
	for off := 0; off+12 <= len(elf) && off < 8192; off += 4 {
		magic := binary.LittleEndian.Uint32(elf[off:])
		flags := binary.LittleEndian.Uint32(elf[off+4:])
		sum := binary.LittleEndian.Uint32(elf[off+8:])
		if magic == 0x1BADB002 {
			if magic+flags+sum != 0 {
				t.Fatalf("multiboot header at %#x has a bad checksum", off)
			}
			return
		}
	}
	t.Fatal("no multiboot header in the first 8 KiB")
}

// TestQEMU runs every guest under QEMU and compares its serial output and exit
// status with the recorded expectations. With -update it records them instead.
func TestQEMU(t *testing.T) {
	guestbuild.QEMU(t)
	for _, name := range guests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			img := guestbuild.Build(t, name)
			out, status := guestbuild.RunQEMU(t, guestbuild.QEMUArgs(t, name, img)...)
			if *update {
				dir := guestbuild.Dir(t, name)
				if err := os.WriteFile(filepath.Join(dir, "expected.txt"), out, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "expected_status"), []byte(strconv.Itoa(status)+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("recorded %d bytes, exit status %d", len(out), status)
				return
			}
			want, wantStatus := guestbuild.Expected(t, name)
			if d := guestbuild.Diff(guestbuild.FilterLines(want, volatilePrefixes...),
				guestbuild.FilterLines(out, volatilePrefixes...)); d != "" {
				t.Errorf("serial output differs from guests/%s/expected.txt: %s", name, d)
			}
			if status != wantStatus {
				t.Errorf("exit status %d, want %d (guest exit code %#x)", status, wantStatus, guestbuild.GuestExitCode(wantStatus))
			}
		})
	}
}

// TestDemoROMReproducible rebuilds the demo ROM and compares it with the
// committed guests/demo/demo.rom that the emulator embeds.
func TestDemoROMReproducible(t *testing.T) {
	built, err := os.ReadFile(guestbuild.Build(t, "demo"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := os.ReadFile(guestbuild.BuildInto(t, "demo", t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(built, again) {
		t.Fatal("two builds of the demo ROM differ: the build is not reproducible")
	}
	committed, err := os.ReadFile(filepath.Join(guestbuild.Dir(t, "demo"), "demo.rom"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(built, committed) {
		t.Fatal("guests/demo/demo.rom is stale: rebuild it: bash guests/demo/build.sh /tmp/demo && cp /tmp/demo/demo.rom guests/demo/")
	}
}

// TestExpectedFiles checks every guest has its recorded expectations.
func TestExpectedFiles(t *testing.T) {
	for _, name := range guests {
		want, status := guestbuild.Expected(t, name)
		if len(want) == 0 {
			t.Errorf("%s: expected.txt is empty", name)
		}
		// crash ends in a triple fault: QEMU -no-reboot exits 0.
		if status&1 != 1 && !(name == "crash" && status == 0) {
			t.Errorf("%s: expected_status %d is not (code<<1)|1 as isa-debug-exit produces", name, status)
		}
		if args := guestbuild.QEMUArgs(t, name, "IMG"); len(args) == 0 {
			t.Errorf("%s: empty qemu_args", name)
		}
	}
}
