package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is one server the bench started and measures from outside: `incidents serve` or the
// bare baseline.
type process struct {
	URL string
	// Listening is the time from starting the process to its "listening on" line; Ready to its
	// first 200 from GET /healthz.
	Listening, Ready time.Duration

	cmd     *exec.Cmd
	log     *os.File
	exited  chan struct{}
	exitErr error
}

// startProcess runs name with args and env added to the bench's environment, its stderr
// appended to logPath, and waits (up to 30 s) for a stdout line "… listening on URL" and then
// a 200 from URL/healthz.
func startProcess(name string, args, env []string, logPath string) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	p := &process{cmd: exec.Command(name, args...), log: logf, exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	// A bench that dies (killed, a panic) takes its servers with it: nothing it started
	// outlives it.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.cmd.Stderr = logf
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	start := time.Now()
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.exitErr = p.cmd.Wait(); logf.Close(); close(p.exited) }()
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, u, ok := strings.Cut(sc.Text(), "listening on "); ok {
				select {
				case urlc <- strings.TrimSpace(u):
				default:
				}
			}
		}
	}()
	timeout := time.After(30 * time.Second)
	select {
	case p.URL = <-urlc:
		p.Listening = time.Since(start)
	case <-p.exited:
		return nil, fmt.Errorf("%s exited before listening (%v); its log is %s", name, p.exitErr, logPath)
	case <-timeout:
		p.stop(time.Second)
		return nil, fmt.Errorf("%s did not listen within 30 s; its log is %s", name, logPath)
	}
	c := &http.Client{Timeout: time.Second}
	for {
		resp, err := c.Get(p.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.Ready = time.Since(start)
				return p, nil
			}
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("%s exited before it was ready (%v); its log is %s", name, p.exitErr, logPath)
		case <-timeout:
			p.stop(time.Second)
			return nil, fmt.Errorf("%s was not ready within 30 s; its log is %s", name, logPath)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// stop asks the process to shut down (SIGINT), waits up to grace, then kills it. It reports
// whether it stopped by itself.
func (p *process) stop(grace time.Duration) bool {
	select {
	case <-p.exited:
		return true
	default:
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.exited:
		return true
	case <-time.After(grace):
		p.cmd.Process.Kill()
		<-p.exited
		return false
	}
}

// usage is what a process used over a window: its peak resident memory (sampled) and CPU
// time (user + system, all threads).
type usage struct {
	PeakRSS int64 // bytes
	CPU     time.Duration
	Wall    time.Duration
}

// Cores is the average number of cores the process kept busy.
func (u usage) Cores() float64 {
	if u.Wall <= 0 {
		return 0
	}
	return u.CPU.Seconds() / u.Wall.Seconds()
}

// watcher samples a process's VmRSS every few milliseconds from /proc until stopped.
type watcher struct {
	pid   int
	start time.Time
	cpu0  time.Duration
	stopc chan struct{}
	wg    sync.WaitGroup

	mu   sync.Mutex
	peak int64
}

func watch(pid int) *watcher {
	w := &watcher{pid: pid, start: time.Now(), cpu0: cpuTime(pid), stopc: make(chan struct{})}
	w.sample()
	w.wg.Go(func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.stopc:
				return
			case <-t.C:
				w.sample()
			}
		}
	})
	return w
}

func (w *watcher) sample() {
	rss := rssBytes(w.pid)
	w.mu.Lock()
	w.peak = max(w.peak, rss)
	w.mu.Unlock()
}

// now returns the usage so far without stopping.
func (w *watcher) now() usage {
	w.sample()
	w.mu.Lock()
	defer w.mu.Unlock()
	return usage{PeakRSS: w.peak, CPU: cpuTime(w.pid) - w.cpu0, Wall: time.Since(w.start)}
}

func (w *watcher) stop() usage {
	u := w.now()
	close(w.stopc)
	w.wg.Wait()
	return u
}

// rssBytes reads VmRSS from /proc/PID/status (0 when the process is gone).
func rssBytes(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := strings.Fields(string(rest))
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every Linux ABI Go runs on.
const clockTicks = 100

// cpuTime reads utime + stime (every thread of the process) from /proc/PID/stat.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) is in parentheses and may hold spaces: count from after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	// After the name: state is field 3, utime field 14 and stime field 15.
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTicks
}

// contextSleep sleeps for d or until ctx is done.
func contextSleep(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}
