package benchdelay

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ProcStat is a process's footprint read from /proc (Linux).
type ProcStat struct {
	RSS, HWM int64         // VmRSS and VmHWM (peak), bytes
	Threads  int           // OS threads
	CPU      time.Duration // on-CPU time of its live threads (schedstat, ns precision)
	Slices   int64         // times its threads were put on a CPU (schedstat): wakeups
}

// ReadProc reads pid's footprint.
func ReadProc(pid int) (ProcStat, error) {
	var s ProcStat
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("read proc: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		switch k {
		case "VmRSS":
			s.RSS = n << 10
		case "VmHWM":
			s.HWM = n << 10
		case "Threads":
			s.Threads = int(n)
		}
	}
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil {
		return s, fmt.Errorf("read proc: %w", err)
	}
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread just exited
		}
		if fields := strings.Fields(string(b)); len(fields) > 0 {
			ns, _ := strconv.ParseInt(fields[0], 10, 64)
			s.CPU += time.Duration(ns)
		}
		if fields := strings.Fields(string(b)); len(fields) > 2 {
			n, _ := strconv.ParseInt(fields[2], 10, 64)
			s.Slices += n
		}
	}
	return s, nil
}

// MiB formats bytes in MiB.
func MiB(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
