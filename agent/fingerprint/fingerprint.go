// Package fingerprint finds out what the node is: CPU, memory, disk,
// kernel, OS, architecture and hostname, as node attributes named as
// Nomad names them ("cpu.numcores", "kernel.name", ...) so that job
// constraints written for Nomad keep matching.
package fingerprint

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Host is what the node found out about itself.
type Host struct {
	Cores int
	// MHz is the summed clock of all cores. When the kernel does not say
	// (some VMs, ARM), it is Cores × 1000 and CPUNote says so.
	MHz           int
	CPUModel      string
	CPUNote       string
	MemoryBytes   uint64
	DiskFreeBytes uint64
	KernelName    string
	KernelVersion string
	OSName        string
	OSVersion     string
	Arch          string
	Hostname      string
}

// Sources are the files read; tests point them at fixtures.
type Sources struct {
	CPUInfo   string // /proc/cpuinfo
	MemInfo   string // /proc/meminfo
	OSRelease string // /etc/os-release
	DiskPath  string // the filesystem whose free space is reported
}

// DefaultSources are the real files.
func DefaultSources(dataDir string) Sources {
	return Sources{CPUInfo: "/proc/cpuinfo", MemInfo: "/proc/meminfo", OSRelease: "/etc/os-release", DiskPath: dataDir}
}

// Detect reads the host. Missing facts are left zero; it never fails,
// since a node that cannot read /etc/os-release can still run tasks.
func Detect(src Sources) Host {
	h := Host{Arch: runtime.GOARCH, KernelName: runtime.GOOS}
	h.Hostname, _ = os.Hostname()
	h.Cores, h.MHz, h.CPUModel = parseCPUInfo(readFile(src.CPUInfo))
	if h.Cores == 0 {
		h.Cores = runtime.NumCPU()
	}
	if h.MHz == 0 {
		h.MHz = h.Cores * 1000
		h.CPUNote = fmt.Sprintf("the CPU clock is unknown (no \"cpu MHz\" in %s); assuming 1000 MHz per core", src.CPUInfo)
	}
	h.MemoryBytes = parseMemTotal(readFile(src.MemInfo))
	h.OSName, h.OSVersion = parseOSRelease(readFile(src.OSRelease))
	h.KernelVersion = kernelRelease()
	if src.DiskPath != "" {
		h.DiskFreeBytes = diskFree(src.DiskPath)
	}
	return h
}

// Attributes are the node attributes of h.
func (h Host) Attributes() map[string]string {
	attrs := map[string]string{
		"kernel.name":       h.KernelName,
		"kernel.version":    h.KernelVersion,
		"os.name":           h.OSName,
		"os.version":        h.OSVersion,
		"cpu.arch":          h.Arch,
		"cpu.numcores":      strconv.Itoa(h.Cores),
		"cpu.totalcompute":  strconv.Itoa(h.MHz),
		"cpu.modelname":     h.CPUModel,
		"memory.totalbytes": strconv.FormatUint(h.MemoryBytes, 10),
		"unique.hostname":   h.Hostname,
	}
	if h.Cores > 0 {
		attrs["cpu.frequency"] = strconv.Itoa(h.MHz / h.Cores)
	}
	if h.DiskFreeBytes > 0 {
		attrs["unique.storage.bytesfree"] = strconv.FormatUint(h.DiskFreeBytes, 10)
	}
	for k, v := range attrs {
		if v == "" {
			delete(attrs, k)
		}
	}
	return attrs
}

func readFile(path string) []byte {
	if path == "" {
		return nil
	}
	b, _ := os.ReadFile(path)
	return b
}

// parseCPUInfo counts "processor" entries and sums "cpu MHz".
func parseCPUInfo(b []byte) (cores, mhz int, model string) {
	var total float64
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "processor":
			cores++
		case "cpu MHz":
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				total += f
			}
		case "model name":
			if model == "" {
				model = v
			}
		}
	}
	return cores, int(total), model
}

func parseMemTotal(b []byte) uint64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

func parseOSRelease(b []byte) (name, version string) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"'`)
		switch k {
		case "ID":
			name = v
		case "VERSION_ID":
			version = v
		}
	}
	return name, version
}
