// Package launch starts the command that profile -- CMD and offcputime --
// CMD measure, held before its first instruction until the BPF programs
// are attached: the command's first process is a copy of ember, blocked
// on a pipe, that execs the command when released. Under sudo the command
// runs as the user who ran sudo, not as root.
package launch

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// The launcher's environment: the variable that makes ember's main a
// launcher, and the IDs it drops to before exec.
const (
	envLaunch = "EMBER_LAUNCH"
	envUID    = "EMBER_LAUNCH_UID"
	envGID    = "EMBER_LAUNCH_GID"
	envNice   = "EMBER_LAUNCH_NICE"
)

// releaseFD is the pipe the launcher waits on (the first of ExtraFiles).
const releaseFD = 3

// Child is a command started and held before exec.
type Child struct {
	cmd     *exec.Cmd
	release *os.File
	// Pid is the command's process ID, the launcher's before exec.
	Pid uint32
	// Path is the executable that will be run, found on $PATH.
	Path string
}

// NotFoundError is a command that cannot be run: the shell's exit status
// 127.
type NotFoundError struct{ Err error }

func (e NotFoundError) Error() string { return e.Err.Error() }
func (e NotFoundError) Unwrap() error { return e.Err }

// Start starts argv's command held before exec, to run at the given nice
// value (ember's own is raised while it attaches). Its standard streams are
// ember's. When ember runs as root under sudo, the command runs as
// SUDO_UID and SUDO_GID with that user's groups.
func Start(argv []string, nice int) (*Child, error) {
	if len(argv) == 0 {
		return nil, errors.New("no command after --")
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, NotFoundError{fmt.Errorf("command %q: %w", argv[0], err)}
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("start %q: find ember's own executable: %w", argv[0], err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start %q: %w", argv[0], err)
	}
	defer r.Close()
	cmd := exec.Command(self, append([]string{path}, argv[1:]...)...)
	cmd.Args[0] = argv[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{r}
	cmd.Env = append(os.Environ(), envLaunch+"=1", envNice+"="+strconv.Itoa(nice))
	if uid, gid, ok := sudoIDs(); ok {
		cmd.Env = append(cmd.Env, envUID+"="+uid, envGID+"="+gid)
	}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("start %q: %w", argv[0], err)
	}
	return &Child{cmd: cmd, release: w, Pid: uint32(cmd.Process.Pid), Path: path}, nil
}

// sudoIDs returns the IDs of the user who ran sudo, when ember runs as
// root under sudo.
func sudoIDs() (uid, gid string, ok bool) {
	uid, gid = os.Getenv("SUDO_UID"), os.Getenv("SUDO_GID")
	if os.Geteuid() != 0 || uid == "" || gid == "" || uid == "0" {
		return "", "", false
	}
	if _, err := strconv.ParseUint(uid, 10, 32); err != nil {
		return "", "", false
	}
	if _, err := strconv.ParseUint(gid, 10, 32); err != nil {
		return "", "", false
	}
	return uid, gid, true
}

// Release lets the command exec.
func (c *Child) Release() error {
	_, err := c.release.Write([]byte{1})
	c.release.Close()
	if err != nil {
		return fmt.Errorf("release the command: %w", err)
	}
	return nil
}

// Abandon kills a command that was never released and reaps it.
func (c *Child) Abandon() {
	c.release.Close()
	c.cmd.Process.Kill()
	c.cmd.Wait()
}

// Signal sends sig to the command.
func (c *Child) Signal(sig os.Signal) error { return c.cmd.Process.Signal(sig) }

// Wait waits for the command to end and returns its exit status as a shell
// reports it: the exit code, or 128 plus the signal that killed it.
func (c *Child) Wait() int {
	err := c.cmd.Wait()
	st, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ok && st.Signaled():
		return 128 + int(st.Signal())
	case ok && st.Exited():
		return st.ExitStatus()
	case err != nil:
		return 1
	}
	return 0
}

// Exec, in a process started by Start, waits for Release and execs the
// command; in any other process it returns at once. Every ember command
// calls it first thing.
func Exec() {
	if os.Getenv(envLaunch) == "" {
		return
	}
	os.Exit(launched())
}

// launched is the launcher: it returns an exit status only when it cannot
// exec the command.
func launched() int {
	release := os.NewFile(releaseFD, "release")
	var b [1]byte
	if n, _ := release.Read(b[:]); n != 1 {
		// ember gave up (it could not attach, or was killed): run nothing.
		return 125
	}
	release.Close()
	uid, gid, nice := os.Getenv(envUID), os.Getenv(envGID), os.Getenv(envNice)
	for _, v := range []string{envLaunch, envUID, envGID, envNice} {
		os.Unsetenv(v)
	}
	// Nice values and credentials set here must be this thread's, the one
	// that execs.
	runtime.LockOSThread()
	if n, err := strconv.Atoi(nice); err == nil {
		unix.Setpriority(unix.PRIO_PROCESS, 0, n)
	}
	if uid != "" {
		if err := dropTo(uid, gid); err != nil {
			fmt.Fprintf(os.Stderr, "ember: run the command as uid %s: %v\n", uid, err)
			return 126
		}
	}
	if len(os.Args) < 2 {
		return 125
	}
	err := syscall.Exec(os.Args[1], append([]string{os.Args[0]}, os.Args[2:]...), os.Environ())
	fmt.Fprintf(os.Stderr, "ember: exec %s: %v\n", os.Args[1], err)
	if errors.Is(err, syscall.ENOENT) {
		return 127
	}
	return 126
}

// dropTo sets this process's groups, group and user to those of uid.
func dropTo(uid, gid string) error {
	u, _ := strconv.Atoi(uid)
	g, _ := strconv.Atoi(gid)
	groups := []int{g}
	if usr, err := user.LookupId(uid); err == nil {
		if ids, err := usr.GroupIds(); err == nil {
			groups = groups[:0]
			for _, s := range ids {
				if n, err := strconv.Atoi(s); err == nil {
					groups = append(groups, n)
				}
			}
		}
	}
	if err := syscall.Setgroups(groups); err != nil {
		return err
	}
	if err := syscall.Setgid(g); err != nil {
		return err
	}
	return syscall.Setuid(u)
}
