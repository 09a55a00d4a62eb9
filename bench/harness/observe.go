package harness

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dhtkv/dht/bench/report"
)

// rssSampler records the peak resident set of processes, read from
// /proc/PID/status every interval until stopped. On systems without /proc
// it records nothing.
type rssSampler struct {
	stop chan struct{}
	wg   sync.WaitGroup
	mu   struct {
		sync.Mutex
		peak map[string]rss
	}
}

// rss is a process's resident set in bytes, in total and split as the
// kernel reports it: anonymous memory (heap, stacks) and file-backed pages
// (memory-mapped files such as badger's tables and logs: page cache the
// kernel reclaims under pressure).
type rss struct{ total, anon, file int64 }

func sampleRSS(procs []*Proc, every time.Duration) *rssSampler {
	s := &rssSampler{stop: make(chan struct{})}
	s.mu.peak = map[string]rss{}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			for _, p := range procs {
				if r, ok := readRSS(p.Pid()); ok {
					s.mu.Lock()
					// Each part's own peak: they need not peak together.
					old := s.mu.peak[p.Name]
					s.mu.peak[p.Name] = rss{total: max(old.total, r.total), anon: max(old.anon, r.anon), file: max(old.file, r.file)}
					s.mu.Unlock()
				}
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends the sampling and returns each process's peaks.
func (s *rssSampler) Stop() map[string]rss {
	close(s.stop)
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.peak
}

// readRSS returns the resident set of pid: VmRSS, RssAnon and RssFile
// (plus RssShmem, which is file-backed too) from /proc/PID/status.
func readRSS(pid int) (rss, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return rss{}, false
	}
	var r rss
	found := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest) // "123456 kB"
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "VmRSS":
			r.total, found = kb<<10, true
		case "RssAnon":
			r.anon = kb << 10
		case "RssFile", "RssShmem":
			r.file += kb << 10
		}
	}
	return r, found
}

// userHZ is the unit of the CPU times in /proc/PID/stat: the kernel's
// USER_HZ, 100 on every architecture Go runs Linux on.
const userHZ = 100

// procCPU returns the CPU time, user and system, that process pid and its
// threads have used so far, from /proc/PID/stat; ok is false where that
// cannot be read.
func procCPU(pid int) (d time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime, fields 14 and 15 of a
// /proc/PID/stat line. The command name (field 2) is in parentheses and
// may hold spaces and parentheses itself, so fields are counted from the
// last ')'.
func parseStatCPU(stat string) (time.Duration, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, false
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, true
}

// cpuMeter measures the CPU time the servers and the harness itself use
// over an interval.
type cpuMeter struct {
	procs          []*Proc
	server, client time.Duration
	ok             bool
}

// startCPU reads the CPU times of procs and of this process.
func startCPU(procs []*Proc) *cpuMeter {
	m := &cpuMeter{procs: procs}
	m.server, m.client, m.ok = m.read()
	return m
}

func (m *cpuMeter) read() (server, client time.Duration, ok bool) {
	client, ok = procCPU(os.Getpid())
	for _, p := range m.procs {
		d, pok := procCPU(p.Pid())
		server += d
		ok = ok && pok
	}
	return server, client, ok
}

// Stop returns the CPU seconds the servers and the harness used since
// startCPU; zeros when some process could not be read at either end.
func (m *cpuMeter) Stop() (server, client float64) {
	s, c, ok := m.read()
	if !ok || !m.ok {
		return 0, 0
	}
	return (s - m.server).Seconds(), (c - m.client).Seconds()
}

// captureProfile fetches a CPU profile with hc from url (a
// /debug/pprof/profile endpoint, which blocks for its seconds parameter)
// into path.
func captureProfile(ctx context.Context, hc *http.Client, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s answered %d %s", url, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// DescribeMachine reads what the report says about the machine. etcd is
// the etcd binary, asked for its version; empty skips it.
func DescribeMachine(etcd string) report.Machine {
	m := report.Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version(), LoadBefore: loadAverage()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.Join(strings.Fields(v), " ")
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if f := strings.Fields(rest); len(f) == 2 {
					if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
						m.MemBytes = kb << 10
					}
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if etcd != "" {
		if out, err := exec.Command(etcd, "--version").Output(); err == nil {
			for line := range strings.SplitSeq(string(out), "\n") {
				if v, ok := strings.CutPrefix(line, "etcd Version: "); ok {
					m.Etcd = strings.TrimSpace(v)
				}
			}
		}
	}
	return m
}

// loadAverage returns the 1, 5 and 15 minute load averages, or "".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], ", ")
}

// Progress prints a run's progress: on a terminal one line rewritten every
// second, elsewhere a line every ten seconds, so that CI logs stay short.
type Progress struct {
	w     io.Writer
	tty   bool
	start time.Time
	last  time.Time
	label string
	total int64
	limit time.Duration
}

// NewProgress returns a display writing to w; tty makes it rewrite its line.
func NewProgress(w io.Writer, tty bool) *Progress { return &Progress{w: w, tty: tty} }

// Begin starts a run of total operations, cut after limit (0: none).
func (p *Progress) Begin(label string, total int64, limit time.Duration) {
	p.label, p.total, p.limit, p.start, p.last = label, total, limit, time.Now(), time.Now()
}

// Update shows done operations so far; it is RunWorkload's callback.
func (p *Progress) Update(done int64) {
	now := time.Now()
	if !p.tty && now.Sub(p.last) < 10*time.Second {
		return
	}
	p.last = now
	el := now.Sub(p.start).Seconds()
	rate := float64(done) / max(el, 1e-9)
	line := fmt.Sprintf("  %s: %d/%d ops (%.0f%%), %.0f ops/s", p.label, done, p.total, 100*float64(done)/float64(max(p.total, 1)), rate)
	if rate > 0 && done < p.total {
		left := time.Duration(float64(p.total-done) / rate * float64(time.Second))
		if p.limit > 0 {
			left = min(left, p.limit-now.Sub(p.start))
		}
		line += fmt.Sprintf(", about %s left", left.Round(time.Second))
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// End clears the progress line.
func (p *Progress) End() {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// IsTerminal reports whether f is a character device.
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
