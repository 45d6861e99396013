package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon/statefile"
	"github.com/r2sync/r2sync/renren/prosodytest"
	"github.com/r2sync/r2sync/shard"
	"github.com/r2sync/r2sync/twitter/twittertest"
)

// shardWorld is one config of 12 mirrors, each with its own Twitter user
// and XMPP account, its state files on one shared directory.
type shardWorld struct {
	*world
	names []string
	users map[string]twittertest.User
	jids  map[string]string
}

const shardMirrors = 12

func newShardWorld(t *testing.T) *shardWorld {
	t.Helper()
	sw := &shardWorld{users: map[string]twittertest.User{}, jids: map[string]string{}}
	accounts := map[string]string{watcherName: watcherPass}
	group := []string{watcherName}
	for i := range shardMirrors {
		name := fmt.Sprintf("m%02d", i)
		local := fmt.Sprintf("3000%02d", i)
		sw.names = append(sw.names, name)
		sw.jids[name] = local + "@talk.xiaonei.com"
		accounts[local] = "pw-" + local
		group = append(group, local)
	}
	p := prosodytest.Start(t, prosodytest.Options{Domain: "talk.xiaonei.com", Users: accounts, Group: group})
	server := twittertest.NewServer(apiKeys)
	t.Cleanup(server.Close)
	w := &world{t: t, api: "v2", prosody: p, server: server, dir: t.TempDir()}
	w.watcher = p.Watch(t, watcherName, watcherPass)
	sw.world = w
	var b strings.Builder
	fmt.Fprintf(&b, "[twitter]\n%sconsumer_key = %q\nconsumer_secret = %q\npoll_interval = \"1s\"\n\n", apiConfig(server, w.api), apiKeys.ConsumerKey, apiKeys.ConsumerSecret)
	fmt.Fprintf(&b, "[renren]\naddress = %q\nca_file = %q\nping_interval = \"30s\"\n\n", p.Addr(), p.CAFile())
	fmt.Fprintf(&b, "[state]\ndir = %q\n\n[log]\nlevel = \"info\"\nformat = \"json\"\n\n", filepath.Join(w.dir, "state"))
	for i, name := range sw.names {
		u := server.Users()[0]
		if i > 0 {
			u = server.AddUser(twittertest.User{ScreenName: name})
		}
		sw.users[name] = u
		local, _, _ := strings.Cut(sw.jids[name], "@")
		fmt.Fprintf(&b, "[[mirror]]\nname = %q\n  [mirror.twitter]\n  access_token = %q\n  access_secret = %q\n  [mirror.renren]\n  jid = %q\n  password = %q\n  [mirror.sync]\n  template = \"%s: {{.Text}}\"\n\n",
			name, u.AccessToken, u.AccessSecret, sw.jids[name], accounts[local], name)
	}
	w.config = w.writeConfig("config.toml", b.String())
	return sw
}

// startShard starts `r2sync run` with args and extra environment.
func (sw *shardWorld) startShard(env []string, args ...string) *daemonProc {
	t := sw.t
	t.Helper()
	out := &syncBuffer{}
	cmd := exec.Command(binary, append([]string{"run", "--config", sw.config}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemonProc{cmd: cmd, out: out, exited: make(chan error, 1)}
	go func() { d.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-d.exited
		sw.checkNoSecrets(out.String())
	})
	return d
}

// logged returns the mirror names of the log lines with message msg.
func logged(out, msg string) []string {
	var names []string
	for _, line := range strings.Split(out, "\n") {
		var l struct {
			Msg    string `json:"msg"`
			Mirror string `json:"mirror"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == msg {
			names = append(names, l.Mirror)
		}
	}
	return names
}

// statusesOf returns the statuses of mirror name, without its prefix.
func (sw *shardWorld) statusesOf(name string) []string {
	var out []string
	for _, s := range sw.watcher.Statuses() {
		if text, ok := strings.CutPrefix(s.Text, name+": "); ok && strings.HasPrefix(s.From, sw.jids[name]+"/") {
			out = append(out, text)
		}
	}
	return out
}

// deliverRound tweets once for every mirror and waits until each status
// arrived; it returns which process set each mirror's status, from the
// processes' "status set" log lines.
func (sw *shardWorld) deliverRound(t *testing.T, round string, procs []*daemonProc) map[string]int {
	t.Helper()
	for _, n := range sw.names {
		u := sw.users[n]
		sw.server.AddTweet(twittertest.Tweet{Text: round, UserID: u.ID, ScreenName: u.ScreenName})
	}
	for _, n := range sw.names {
		waitFor(t, "status "+round+" of "+n, 60*time.Second, func() bool { return slices.Contains(sw.statusesOf(n), round) })
	}
	owner := map[string]int{}
	waitFor(t, "the logs of "+round, 10*time.Second, func() bool {
		total := 0
		for _, d := range procs {
			total += len(logged(d.out.String(), "status set"))
		}
		return total >= len(sw.names) // one round per set of processes
	})
	for i, d := range procs {
		for _, n := range logged(d.out.String(), "status set") {
			if prev, ok := owner[n]; ok && prev != i {
				t.Errorf("%s: mirror %s set by shard processes %d and %d", round, n, prev, i)
			}
			owner[n] = i
		}
	}
	return owner
}

// TestShardsE2E: one config of 12 mirrors run by 3 shard processes, then
// by 4. Each mirror is run and delivered by exactly the shard
// `r2sync shards` names, each status once; going to 4 shards moves only
// the mirrors whose shard changed, all to the new shard. The state
// directory is shared, so the moved mirrors lose nothing.
func TestShardsE2E(t *testing.T) {
	t.Parallel()
	sw := newShardWorld(t)

	assignment := func(n int) map[string]int {
		code, out, errOut := r2sync(t, "shards", "--config", sw.config, "--of", fmt.Sprint(n))
		if code != 0 {
			t.Fatalf("shards --of %d: exit %d: %s", n, code, errOut)
		}
		got := map[string]int{}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			f := strings.Fields(l)
			sh, err := shard.Parse(f[0], n)
			if err != nil {
				t.Fatalf("shards output %q: %v", l, err)
			}
			got[f[1]] = sh.Index
		}
		if len(got) != shardMirrors {
			t.Fatalf("shards --of %d lists %d mirrors:\n%s", n, len(got), out)
		}
		return got
	}
	of3, of4 := assignment(3), assignment(4)

	// Three shards: flags, I/N.
	var procs []*daemonProc
	for i := range 3 {
		procs = append(procs, sw.startShard(nil, "--shard", fmt.Sprintf("%d/3", i)))
	}
	for _, n := range sw.names {
		waitFor(t, "mirror "+n+" to start", 60*time.Second, func() bool {
			return len(logged(procs[of3[n]].out.String(), "r2sync starting")) > 0 && sw.initialized(n)
		})
	}
	for i, d := range procs {
		started := logged(d.out.String(), "r2sync starting")
		arrived := logged(d.out.String(), "mirror new on this shard: no state file, so it starts as a first start and mirrors nothing older than its newest post")
		var want []string
		for _, n := range sw.names {
			if of3[n] == i {
				want = append(want, n)
			}
		}
		slices.Sort(started)
		slices.Sort(arrived)
		if !slices.Equal(started, want) || !slices.Equal(arrived, want) {
			t.Errorf("shard %d/3 started %v and said new %v; want %v (shards --of 3)", i, started, arrived, want)
		}
	}
	owner3 := sw.deliverRound(t, "round one", procs)
	for _, n := range sw.names {
		if owner3[n] != of3[n] {
			t.Errorf("3 shards: mirror %s delivered by shard %d, want %d", n, owner3[n], of3[n])
		}
	}
	for _, d := range procs {
		d.stop(t)
	}

	// Four shards, as a StatefulSet starts them: the pod name and the
	// count in the environment.
	procs = procs[:0]
	for i := range 4 {
		procs = append(procs, sw.startShard([]string{fmt.Sprintf("R2SYNC_SHARD=r2sync-%d", i), "R2SYNC_SHARDS=4"}))
	}
	for _, n := range sw.names {
		waitFor(t, "mirror "+n+" to start again", 60*time.Second, func() bool {
			return len(logged(procs[of4[n]].out.String(), "r2sync starting")) > 0
		})
	}
	owner4 := sw.deliverRound(t, "round two", procs)
	moved := 0
	for _, n := range sw.names {
		if owner4[n] != of4[n] {
			t.Errorf("4 shards: mirror %s delivered by shard %d, want %d", n, owner4[n], of4[n])
		}
		if of4[n] != of3[n] {
			moved++
			if of4[n] != 3 {
				t.Errorf("mirror %s moved from shard %d to %d, not to the new shard 3", n, of3[n], of4[n])
			}
		}
		// The state was shared: nothing lost, nothing twice.
		if got := sw.statusesOf(n); !slices.Equal(got, []string{"round one", "round two"}) {
			t.Errorf("mirror %s: statuses %q, want each round once", n, got)
		}
	}
	for i, d := range procs {
		if arrived := logged(d.out.String(), "mirror new on this shard: no state file, so it starts as a first start and mirrors nothing older than its newest post"); len(arrived) > 0 {
			t.Errorf("shard %d/4 said %v are new, though their state files were there", i, arrived)
		}
	}
	t.Logf("3 → 4 shards moved %d of %d mirrors (1/4 would be %d)", moved, shardMirrors, shardMirrors/4)
	if moved == 0 || moved > shardMirrors/2 {
		t.Errorf("3 → 4 shards moved %d of %d mirrors", moved, shardMirrors)
	}
	for _, d := range procs {
		d.stop(t)
	}
}

// initialized reports whether mirror name's state records a first start.
func (sw *shardWorld) initialized(name string) bool {
	file := filepath.Join(sw.dir, "state", name+".json")
	if _, err := os.Stat(file); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	store := statefile.New(file)
	defer store.Close()
	st, err := store.Load(ctx)
	return err == nil && st.Initialized
}
