//go:build linux

package repl

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// End-to-end tests: the real glassbox binary under a pseudo-terminal,
// driven like a person at a terminal would (the pty is opened with
// golang.org/x/sys/unix; the test answers readline's cursor-position
// queries as a terminal emulator does).

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func glassboxBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "glassbox-e2e")
		if err != nil {
			binErr = err
			return
		}
		cleanups = append(cleanups, func() { os.RemoveAll(dir) })
		binPath = filepath.Join(dir, "glassbox")
		args := []string{"build", "-o", binPath}
		if raceBuild { // test the binary the way the tests run
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, "glassbox/cmd/glassbox")...).CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// term is a process on a pty plus everything it printed.
type term struct {
	t      *testing.T
	master *os.File
	cmd    *exec.Cmd
	mu     sync.Mutex
	buf    bytes.Buffer
	done   chan struct{}
	mark   int // expect searches from here
}

func openPTY() (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, err
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 50, Col: 100})
	return m, s, nil
}

func startTerm(t *testing.T, args ...string) *term {
	t.Helper()
	bin := glassboxBinary(t)
	master, slave, err := openPTY()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GLASSBOX_HISTORY="+filepath.Join(t.TempDir(), "history"), "TERM=xterm")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	tm := &term{t: t, master: master, cmd: cmd, done: make(chan struct{})}
	go tm.read()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		master.Close()
	})
	return tm
}

// read collects output and answers cursor-position queries (ESC [ 6 n).
func (tm *term) read() {
	defer close(tm.done)
	b := make([]byte, 4096)
	answered := 0
	for {
		n, err := tm.master.Read(b)
		if n > 0 {
			tm.mu.Lock()
			tm.buf.Write(b[:n])
			q := strings.Count(tm.buf.String(), "\x1b[6n")
			tm.mu.Unlock()
			for ; answered < q; answered++ {
				tm.master.Write([]byte("\x1b[1;1R"))
			}
		}
		if err != nil {
			return
		}
	}
}

// vt renders terminal output into lines of text, as a terminal with
// unlimited height would show it: it interprets CR, LF, BS, TAB and the
// CSI cursor-movement and erase sequences readline uses, and ignores the
// other escape sequences.
func vt(out []byte) string {
	var lines [][]rune
	row, col := 0, 0
	ensure := func() {
		for len(lines) <= row {
			lines = append(lines, nil)
		}
		for len(lines[row]) < col {
			lines[row] = append(lines[row], ' ')
		}
	}
	s := []rune(string(out))
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\r':
			col = 0
		case ch == '\n':
			row++
			col = 0
		case ch == '\b':
			if col > 0 {
				col--
			}
		case ch == '\t':
			col = (col/8 + 1) * 8
		case ch == 0x1b && i+1 < len(s) && s[i+1] == '[':
			j := i + 2
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == ';' || s[j] == '?') {
				j++
			}
			if j >= len(s) {
				i = j
				continue
			}
			params := strings.Split(strings.TrimPrefix(string(s[i+2:j]), "?"), ";")
			n := 1
			if v, err := strconv.Atoi(params[0]); err == nil {
				n = v
			}
			switch s[j] {
			case 'A':
				row = max(0, row-n)
			case 'B':
				row += n
			case 'C':
				col += n
			case 'D':
				col = max(0, col-n)
			case 'G':
				col = max(0, n-1)
			case 'J', 'K':
				mode := 0
				if params[0] != "" {
					mode, _ = strconv.Atoi(params[0])
				}
				ensure()
				if mode == 0 {
					lines[row] = lines[row][:col]
					if s[j] == 'J' {
						lines = lines[:row+1]
					}
				} else if mode == 2 && s[j] == 'K' {
					lines[row] = nil
				}
			}
			i = j
		case ch == 0x1b:
			i++ // two-character escape
		case ch < 0x20:
		default:
			ensure()
			if col < len(lines[row]) {
				lines[row][col] = ch
			} else {
				lines[row] = append(lines[row], ch)
			}
			col++
		}
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(strings.TrimRight(string(l), " ") + "\n")
	}
	return b.String()
}

// screen is what the terminal shows.
func (tm *term) screen() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return vt(tm.buf.Bytes())
}

// expect waits until the text after the mark contains s, then moves the
// mark past it.
func (tm *term) expect(s string) {
	tm.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		scr := tm.screen()
		if i := strings.Index(scr[min(tm.mark, len(scr)):], s); i >= 0 {
			tm.mark += i + len(s)
			return
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("timed out waiting for %q; screen after the last match:\n%s", s, scr[min(tm.mark, len(scr)):])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (tm *term) send(s string) {
	tm.t.Helper()
	if _, err := tm.master.Write([]byte(s)); err != nil {
		tm.t.Fatal(err)
	}
}

// line types a command after the prompt shows up.
func (tm *term) line(s string) {
	tm.t.Helper()
	tm.expect(strings.TrimSpace(Prompt))
	tm.send(s + "\r")
}

// wait waits for the process to exit and returns its status.
func (tm *term) wait() int {
	tm.t.Helper()
	ch := make(chan error, 1)
	go func() { ch <- tm.cmd.Wait() }()
	select {
	case err := <-ch:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			tm.t.Fatal(err)
		}
		return 0
	case <-time.After(20 * time.Second):
		tm.t.Fatalf("glassbox did not exit; screen:\n%s", tm.screen())
	}
	return -1
}

func TestE2EDemoSession(t *testing.T) {
	tm := startTerm(t, "-repl", "-S")
	tm.line("break 0xf0286")
	tm.expect("Breakpoint 1 at 0x000f0286")
	tm.line("continue")
	tm.expect("[2] write read-only page 00201000") // guest serial output
	tm.expect("Breakpoint 1, CPU 0 at 0x000f0286")
	tm.expect("=> 0x000f0286:  movl $0x600df00d,0x201000")
	tm.line("tb list -sort hits -n 3")
	tm.expect("3 TBs (3 valid, 0 invalidated)")
	tm.expect("71  0x000f018c  0x000f018c     8     3      1023   32  valid")
	tm.line("tlb dump")
	tm.expect("CPU 0 software TLB, supervisor index: 5 valid entries")
	tm.expect("0x07f  0x0007f000  0x0007f000  ram   rwx")
	tm.line("dirty")
	tm.expect("0x000f0000  0x000f0fff       1  prot   dirty  dirty  yes")
	tm.line("stepi")
	tm.expect("=> 0x000f05b0:  push $0xe") // the #PF handler's stub
	tm.send("info reg\t")                  // tab completion
	tm.expect("info registers")
	tm.send("\r")
	tm.expect("EIP=000f05b0")
	tm.line("quit")
	if st := tm.wait(); st != 0 {
		t.Errorf("exit status %d, want 0; screen:\n%s", st, tm.screen())
	}
	scr := tm.screen()
	if strings.Contains(scr, "panic") {
		t.Errorf("screen shows a panic:\n%s", scr)
	}
	t.Logf("screen:\n%s", scr)
}

// loopROM is a 64 KiB BIOS that spins at the reset vector.
func loopROM(t *testing.T) string {
	rom := bytes.Repeat([]byte{0xFF}, 0x10000)
	copy(rom[0xFFF0:], []byte{0xEB, 0xFE}) // jmp $
	p := filepath.Join(t.TempDir(), "loop.rom")
	if err := os.WriteFile(p, rom, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestE2ECtrlCAndCtrlD(t *testing.T) {
	tm := startTerm(t, "-bios", loopROM(t), "-repl", "-S")
	tm.line("continue")
	tm.expect("Continuing.")
	time.Sleep(200 * time.Millisecond)
	tm.send("\x03") // Ctrl-C pauses the running guest
	tm.expect("Paused, CPU 0 at 0xfffffff0")
	tm.expect("=> 0xfffffff0:  jmp 0xfffffff0")
	tm.line("info cpus")
	tm.expect("stopped  real")
	tm.line("c")
	tm.expect("Continuing.")
	tm.send("info cpus\r") // needs the guest stopped
	tm.expect("info cpus: the guest is running")
	tm.send("pause\r")
	tm.expect("Paused, CPU 0")
	tm.line("c")
	tm.expect("Continuing.")
	time.Sleep(100 * time.Millisecond)
	tm.send("\x04") // Ctrl-D while running: pause and quit
	if st := tm.wait(); st != 0 {
		t.Errorf("exit status %d, want 0; screen:\n%s", st, tm.screen())
	}
}

func TestE2EGuestExitStatus(t *testing.T) {
	// Without -S the guest runs at once; the demo exits (status 0 for the
	// embedded demo, as without -repl) and the REPL stays for inspection.
	tm := startTerm(t, "-repl")
	tm.expect("demo: PASS")
	tm.expect("[guest exited with status 1]")
	tm.line("tb stats")
	tm.expect("TB count")
	tm.expect(strings.TrimSpace(Prompt))
	tm.send("\x04") // Ctrl-D at the prompt quits
	if st := tm.wait(); st != 0 {
		t.Errorf("exit status %d, want 0", st)
	}
}
