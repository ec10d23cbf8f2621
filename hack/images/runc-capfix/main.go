// Command runc-capfix is a runc wrapper that drops, from an OCI bundle's config.json
// (`--bundle`) or an exec process file (`--process`), every capability missing from this
// host's capability bounding set, then exec's the real runc with the same arguments.
// Without CAP_SYS_RESOURCE it also raises a requested oomScoreAdj to this process's own
// value: lowering oom_score_adj needs that capability (proc(5)), and the kubelet asks for
// -998 on static Pods, so runc's init would die with "failed to update
// /proc/self/oom_score_adj: Permission denied".
//
// Why: some VMs (ours among them) boot with CAP_SYS_RESOURCE absent from the bounding set.
// Docker and containerd grant all capabilities to privileged containers, and runc then
// fails with "unable to apply caps: operation not permitted". kind runs every node as a
// privileged container and kube-proxy runs privileged inside the node, so both Docker and
// the node's containerd use this wrapper as their runc. On a normal host nothing is
// missing and the wrapper changes nothing.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// capNames is linux/capability.h in bit order.
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// realRuncPaths are where Debian and upstream install runc.
var realRuncPaths = []string{"/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc", "/usr/local/bin/runc"}

func main() {
	missing, err := missingCaps()
	if err != nil {
		fail(err)
	}
	if len(missing) > 0 {
		for _, f := range specFiles(os.Args[1:]) {
			if err := fixSpec(f, missing); err != nil {
				fail(err)
			}
		}
	}
	for _, p := range realRuncPaths {
		if _, err := os.Stat(p); err == nil {
			fail(syscall.Exec(p, append([]string{p}, os.Args[1:]...), os.Environ()))
		}
	}
	fail(fmt.Errorf("no runc found in %v", realRuncPaths))
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "runc-capfix: %v\n", err)
	os.Exit(1)
}

// missingCaps returns the known capabilities absent from this process's bounding set.
func missingCaps() (map[string]bool, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if hex, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			bnd, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			if err != nil {
				return nil, err
			}
			missing := map[string]bool{}
			for bit, name := range capNames {
				if bnd&(1<<bit) == 0 {
					missing[name] = true
				}
			}
			return missing, nil
		}
	}
	return nil, fmt.Errorf("no CapBnd in /proc/self/status")
}

type specFile struct {
	path   string
	prefix []string // JSON keys leading to the capabilities object
}

// specFiles finds the OCI files runc will read: the bundle's config.json (create/run)
// and the process file of `runc exec --process`.
func specFiles(args []string) []specFile {
	var out []specFile
	value := func(i int, flag string) (string, bool) {
		a := args[i]
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v, true
		}
		if a == flag && i+1 < len(args) {
			return args[i+1], true
		}
		return "", false
	}
	for i := range args {
		for _, flag := range []string{"--bundle", "-bundle", "-b"} {
			if v, ok := value(i, flag); ok {
				out = append(out, specFile{v + "/config.json", []string{"process", "capabilities"}})
			}
		}
		for _, flag := range []string{"--process", "-process", "-p"} {
			if v, ok := value(i, flag); ok {
				out = append(out, specFile{v, []string{"capabilities"}})
			}
		}
	}
	return out
}

// fixSpec rewrites the file with the missing capabilities removed from every list and,
// when CAP_SYS_RESOURCE is missing, oomScoreAdj raised to what this process may set.
func fixSpec(f specFile, missing map[string]bool) error {
	raw, err := os.ReadFile(f.path)
	if err != nil {
		return err
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep int64 limits exact (float64 would round them)
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("%s: %w", f.path, err)
	}
	process := doc
	if len(f.prefix) > 1 { // config.json: the process is one level down
		process, _ = doc[f.prefix[0]].(map[string]any)
	}
	if process == nil {
		return nil
	}
	if caps, ok := process["capabilities"].(map[string]any); ok {
		dropCaps(caps, missing)
	}
	if missing["CAP_SYS_RESOURCE"] {
		if err := clampOOMScoreAdj(process); err != nil {
			return err
		}
	}
	fixed, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	info, err := os.Stat(f.path)
	if err != nil {
		return err
	}
	return os.WriteFile(f.path, fixed, info.Mode().Perm())
}

// dropCaps removes the missing capabilities from every capability list.
func dropCaps(caps map[string]any, missing map[string]bool) {
	for set, v := range caps {
		list, ok := v.([]any)
		if !ok {
			continue
		}
		kept := make([]any, 0, len(list))
		for _, c := range list {
			if s, _ := c.(string); !missing[s] {
				kept = append(kept, c)
			}
		}
		caps[set] = kept
	}
}

// clampOOMScoreAdj raises process.oomScoreAdj to our own value when it asks for less.
func clampOOMScoreAdj(process map[string]any) error {
	want, ok := process["oomScoreAdj"].(json.Number)
	if !ok {
		return nil
	}
	requested, err := want.Int64()
	if err != nil {
		return err
	}
	raw, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		return err
	}
	own, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
	if err != nil {
		return err
	}
	if requested < own {
		process["oomScoreAdj"] = json.Number(strconv.FormatInt(own, 10))
	}
	return nil
}
