package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// benchTicksPerSecond is Linux's USER_HZ, the unit of the times in
// /proc/<pid>/stat; it is 100 on every architecture Go runs Linux on.
const benchTicksPerSecond = 100

// benchProcCPU is the CPU time (user + system) a process used so far, from
// /proc; false when it cannot be read (no such process, not Linux).
func benchProcCPU(pid int) (time.Duration, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name may hold spaces; the fields we need follow its ')'.
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * time.Second / benchTicksPerSecond, true
}

// benchSelfCPU is the bench process's own CPU time.
func benchSelfCPU() (time.Duration, bool) { return benchProcCPU(os.Getpid()) }

// benchSnapshot reads the CPU time of each process; false if there are none
// or one is unreadable.
func benchSnapshot(procs map[string]int) (map[string]time.Duration, bool) {
	if len(procs) == 0 {
		return nil, false
	}
	out := map[string]time.Duration{}
	for name, pid := range procs {
		d, ok := benchProcCPU(pid)
		if !ok {
			return nil, false
		}
		out[name] = d
	}
	return out, true
}

// benchProcRSS is a process's resident set size in bytes (VmRSS).
func benchProcRSS(pid int) (int64, bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			fs := strings.Fields(rest)
			if len(fs) == 2 && fs[1] == "kB" {
				kb, err := strconv.ParseInt(fs[0], 10, 64)
				return kb << 10, err == nil
			}
		}
	}
	return 0, false
}

// benchChild is a process the bench started: a component, the raw
// reference, or `selfserve dev`.
type benchChild struct {
	name string
	cmd  *exec.Cmd
	logs *benchTail
	done chan struct{}
	err  error // how it exited, once done is closed
}

// startBenchChild starts exe with args; its stderr is kept (the tail) for
// error reports, its stdout goes to stdout (nil: discarded).
func startBenchChild(exe, name string, args []string, stdout io.Writer) (*benchChild, error) {
	cmd := exec.Command(exe, args...)
	// The bench measures capacity: no rate limit may stand in its way.
	cmd.Env = append(os.Environ(), "SELFSERVE_LOG_LEVEL=error", "SELFSERVE_RATE_LIMIT_ORG=0", "SELFSERVE_RATE_LIMIT_CALLER=0")
	cmd.SysProcAttr = childAttr()
	c := &benchChild{name: name, cmd: cmd, logs: &benchTail{max: 8 << 10}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = stdout, c.logs
	if cmd.Stdout == nil {
		cmd.Stdout = io.Discard
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *benchChild) pid() int { return c.cmd.Process.Pid }

// exited tells whether the process is gone, and how it ended.
func (c *benchChild) exited() (bool, string) {
	select {
	case <-c.done:
		return true, fmt.Sprintf("%s exited (%v): %s", c.name, c.err, strings.TrimSpace(c.logs.String()))
	default:
		return false, ""
	}
}

// stop ends the process: SIGTERM, then SIGKILL after grace.
func (c *benchChild) stop(grace time.Duration) {
	select {
	case <-c.done:
		return
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		c.cmd.Process.Kill()
		<-c.done
	}
}

// benchTail keeps the last max bytes written to it.
type benchTail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *benchTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *benchTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// benchFreeAddrs picks n free loopback ports. Another process could take one
// before the child listens on it; a failed start then says so.
func benchFreeAddrs(n int) ([]string, error) {
	var out []string
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

// benchWaitHTTP polls url until it answers 200, the child dies, or timeout.
func benchWaitHTTP(ctx context.Context, url string, timeout time.Duration, children ...*benchChild) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := newBenchHTTP()
	defer c.hc.CloseIdleConnections()
	var last error
	for {
		for _, ch := range children {
			if gone, why := ch.exited(); gone {
				return errors.New(why)
			}
		}
		if _, err := c.do(ctx, "GET", url, "", nil); err == nil {
			return nil
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not healthy within %v: %v", url, timeout, last)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
