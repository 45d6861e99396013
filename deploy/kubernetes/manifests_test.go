// Package kubernetes_test checks the manifests in deploy/kubernetes
// against what r2sync depends on: the shard from the pod name, the mounts
// the config names, the probes' routes, the image's user.
package kubernetes_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/r2sync/r2sync/config"
	"github.com/r2sync/r2sync/daemon/health"
	"github.com/r2sync/r2sync/shard"
)

// Every manifest parses as YAML with apiVersion, kind and a name, and the
// kustomization lists each of them.
func TestManifestsParseAndKustomizationListsThem(t *testing.T) {
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Kind      string   `yaml:"kind"`
		Resources []string `yaml:"resources"`
	}
	load(t, "kustomization.yaml", &k)
	if k.Kind != "Kustomization" {
		t.Fatalf("kustomization kind %q", k.Kind)
	}
	var want []string
	kinds := map[string]bool{}
	for _, f := range files {
		if f == "kustomization.yaml" {
			continue
		}
		want = append(want, f)
		var m struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Metadata   meta   `yaml:"metadata"`
		}
		load(t, f, &m)
		if m.APIVersion == "" || m.Kind == "" || m.Metadata.Name == "" {
			t.Errorf("%s: apiVersion %q kind %q name %q", f, m.APIVersion, m.Kind, m.Metadata.Name)
		}
		kinds[m.Kind] = true
	}
	got := slices.Sorted(slices.Values(k.Resources))
	if !slices.Equal(got, want) {
		t.Errorf("kustomization resources %v, want every manifest %v", got, want)
	}
	for _, kind := range []string{"StatefulSet", "Service", "ConfigMap", "Secret", "PodDisruptionBudget"} {
		if !kinds[kind] {
			t.Errorf("no %s manifest", kind)
		}
	}
}

func theStatefulSet(t *testing.T) (statefulSet, container) {
	t.Helper()
	var s statefulSet
	load(t, "statefulset.yaml", &s)
	if s.Kind != "StatefulSet" || len(s.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("statefulset.yaml: kind %q, %d containers", s.Kind, len(s.Spec.Template.Spec.Containers))
	}
	return s, s.Spec.Template.Spec.Containers[0]
}

func env(c container, name string) (envVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return envVar{}, false
}

// Pod r2sync-I runs shard I of replicas: R2SYNC_SHARD is the pod's name
// and R2SYNC_SHARDS the replica count, which r2sync's shard parser reads.
func TestPodNameIsTheShard(t *testing.T) {
	s, c := theStatefulSet(t)
	sh, ok := env(c, "R2SYNC_SHARD")
	if !ok || sh.ValueFrom.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("R2SYNC_SHARD must come from metadata.name: %+v", sh)
	}
	n, ok := env(c, "R2SYNC_SHARDS")
	if !ok || n.Value != strconv.Itoa(s.Spec.Replicas) {
		t.Errorf("R2SYNC_SHARDS %q, want the replica count %d", n.Value, s.Spec.Replicas)
	}
	for i := range s.Spec.Replicas {
		pod := s.Metadata.Name + "-" + strconv.Itoa(i)
		got, err := shard.Parse(pod, s.Spec.Replicas)
		if err != nil || got != (shard.Shard{Index: i, Count: s.Spec.Replicas}) {
			t.Errorf("pod %s: shard %v, %v", pod, got, err)
		}
	}
	if len(c.Args) == 0 || c.Args[0] != "run" {
		t.Errorf("args %v, want run", c.Args)
	}
	if s.Spec.ServiceName != "r2sync" {
		t.Errorf("serviceName %q", s.Spec.ServiceName)
	}
}

// The probes ask the routes r2sync serves without a token.
func TestProbesMatchRoutes(t *testing.T) {
	_, c := theStatefulSet(t)
	if c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("probes %q and %q, want /healthz and /readyz", c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path)
	}
	h := health.NewRegistry(health.RegistryOptions{}).Handler()
	for _, p := range []probe{c.LivenessProbe, c.ReadinessProbe} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p.HTTPGet.Path, nil))
		if rec.Code == http.StatusNotFound {
			t.Errorf("GET %s: 404 from r2sync's health handler", p.HTTPGet.Path)
		}
		if p.HTTPGet.Port != "http" {
			t.Errorf("probe port %q, want the named port http", p.HTTPGet.Port)
		}
	}
}

// The config's paths are the mounts: state.dir on the claim, every
// *_file in the Secret's mount and a key of the Secret, the listen port
// the container port.
func TestMountsMatchConfig(t *testing.T) {
	s, c := theStatefulSet(t)
	var cm struct {
		Metadata meta              `yaml:"metadata"`
		Data     map[string]string `yaml:"data"`
	}
	load(t, "configmap.yaml", &cm)
	var sec struct {
		Metadata   meta              `yaml:"metadata"`
		StringData map[string]string `yaml:"stringData"`
	}
	load(t, "secret.yaml", &sec)
	cfg, err := config.Parse(strings.NewReader(cm.Data["config.toml"]))
	if err != nil {
		t.Fatalf("configmap config.toml: %v", err)
	}
	mounts := map[string]string{} // volume → path
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
		if m.Name != "state" && !m.ReadOnly {
			t.Errorf("mount %s must be read-only", m.Name)
		}
	}
	vols := s.Spec.Template.Spec.Volumes
	for _, v := range vols {
		switch v.Name {
		case "config":
			if v.ConfigMap.Name != cm.Metadata.Name {
				t.Errorf("config volume from %q, want %q", v.ConfigMap.Name, cm.Metadata.Name)
			}
		case "secrets":
			if v.Secret.SecretName != sec.Metadata.Name {
				t.Errorf("secrets volume from %q, want %q", v.Secret.SecretName, sec.Metadata.Name)
			}
		}
	}
	if len(s.Spec.VolumeClaimTemplates) != 1 || s.Spec.VolumeClaimTemplates[0].Metadata.Name != "state" {
		t.Fatalf("want one volumeClaimTemplate named state: %+v", s.Spec.VolumeClaimTemplates)
	}
	if e, _ := env(c, "R2SYNC_CONFIG"); e.Value != filepath.Join(mounts["config"], "config.toml") {
		t.Errorf("R2SYNC_CONFIG %q is not config.toml in the config mount %q", e.Value, mounts["config"])
	}
	if cfg.State.Dir != mounts["state"] {
		t.Errorf("state.dir %q, want the claim's mount %q", cfg.State.Dir, mounts["state"])
	}
	secretFile := func(key, path string) {
		if path == "" {
			return
		}
		if filepath.Dir(path) != mounts["secrets"] {
			t.Errorf("%s %q is not in the Secret's mount %q", key, path, mounts["secrets"])
		}
		if _, ok := sec.StringData[filepath.Base(path)]; !ok {
			t.Errorf("%s %q: the Secret has no key %q", key, path, filepath.Base(path))
		}
	}
	secretFile("http.token_file", cfg.HTTP.TokenFile)
	if cfg.HTTP.TokenFile == "" {
		t.Error("http.token_file missing: the listener is not on loopback")
	}
	ms := cfg.Mirrors()
	if len(ms) < 2 {
		t.Fatalf("%d mirrors in the example config", len(ms))
	}
	for _, m := range ms {
		if filepath.Dir(m.StateFile) != mounts["state"] {
			t.Errorf("mirror %s: state file %q not on the claim %q", m.Name, m.StateFile, mounts["state"])
		}
		secretFile(m.Name+" consumer_secret_file", m.Twitter.ConsumerSecretFile)
		secretFile(m.Name+" access_token_file", m.Twitter.AccessTokenFile)
		secretFile(m.Name+" access_secret_file", m.Twitter.AccessSecretFile)
		secretFile(m.Name+" password_file", m.Renren.PasswordFile)
	}
	_, port, _ := strings.Cut(cfg.HTTP.Listen, ":")
	if len(c.Ports) != 1 || strconv.Itoa(c.Ports[0].ContainerPort) != port || c.Ports[0].Name != "http" {
		t.Errorf("container ports %+v, want http on the listen port %s", c.Ports, port)
	}
	var svc struct {
		Spec struct {
			ClusterIP string            `yaml:"clusterIP"`
			Selector  map[string]string `yaml:"selector"`
			Ports     []struct {
				Port int `yaml:"port"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	load(t, "service.yaml", &svc)
	if svc.Spec.ClusterIP != "None" || len(svc.Spec.Ports) != 1 || strconv.Itoa(svc.Spec.Ports[0].Port) != port {
		t.Errorf("service: %+v, want headless on port %s", svc.Spec, port)
	}
	for k, v := range svc.Spec.Selector {
		if s.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("service selector %s=%s does not select the pods", k, v)
		}
	}
	for k, v := range s.Spec.Selector.MatchLabels {
		if s.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("statefulset selector %s=%s does not select its pods", k, v)
		}
	}
	var pdb struct {
		Spec struct {
			MaxUnavailable int `yaml:"maxUnavailable"`
			Selector       struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
		} `yaml:"spec"`
	}
	load(t, "poddisruptionbudget.yaml", &pdb)
	if pdb.Spec.MaxUnavailable != 1 || len(pdb.Spec.Selector.MatchLabels) == 0 {
		t.Errorf("pdb %+v", pdb.Spec)
	}
	for k, v := range pdb.Spec.Selector.MatchLabels {
		if s.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("pdb selector %s=%s does not select the pods", k, v)
		}
	}
}

// The pods run as the image does: its non-root user, a read-only root,
// no privilege.
func TestSecurityMatchesImage(t *testing.T) {
	s, c := theStatefulSet(t)
	df, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^USER (\d+):(\d+)$`).FindSubmatch(df)
	if m == nil {
		t.Fatal("no USER uid:gid in deploy/Dockerfile")
	}
	ps := s.Spec.Template.Spec.SecurityContext
	if !ps.RunAsNonRoot || strconv.Itoa(ps.RunAsUser) != string(m[1]) || strconv.Itoa(ps.RunAsGroup) != string(m[2]) || strconv.Itoa(ps.FSGroup) != string(m[2]) {
		t.Errorf("pod security %+v, want non-root %s:%s with fsGroup %s", ps, m[1], m[2], m[2])
	}
	sc := c.SecurityContext
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) {
		t.Errorf("container security %+v", sc)
	}
}

// The memory request fits the benchmark's numbers for the 1,000 mirrors
// per shard the manifest is sized for.
func TestResourcesFromBenchmark(t *testing.T) {
	const (
		base      = 20 << 20
		perMirror = 43 << 10
		mirrors   = 1000
	)
	_, c := theStatefulSet(t)
	req, lim := mebibytes(t, c.Resources.Requests["memory"]), mebibytes(t, c.Resources.Limits["memory"])
	if req < base+mirrors*perMirror {
		t.Errorf("memory request %d bytes < %d (20 MiB + 1,000 × 43 KiB)", req, base+mirrors*perMirror)
	}
	if lim < req {
		t.Errorf("memory limit %d below the request %d", lim, req)
	}
	if c.Resources.Requests["cpu"] == "" {
		t.Error("no cpu request")
	}
}

func mebibytes(t *testing.T, q string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(strings.TrimSuffix(q, "Mi"), 10, 64)
	if err != nil || !strings.HasSuffix(q, "Mi") {
		t.Fatalf("memory %q: want a whole number of Mi", q)
	}
	return n << 20
}
