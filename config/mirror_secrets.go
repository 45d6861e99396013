package config

import "slices"

// resolveMirrorSecrets fills the secrets of every mirror that want
// accepts. Each secret comes from the mirror's own layer, then from the
// defaults, each layer in ResolveSecrets's order:
//
//  1. the mirror's own value or *_file ([mirror.renren] password_file),
//  2. $R2SYNC_MIRROR_<NAME>_<SECTION>_<KEY> (name upper-cased, - as _),
//  3. the top-level value or *_file,
//  4. $R2SYNC_<SECTION>_<KEY>.
//
// A top-level *_file that no mirror falls back to is never read.
func (c *Config) resolveMirrorSecrets(dir string, getenv func(string) string, want func(key string) bool) error {
	files := secretFiles{}
	// Copy on write: a Config copied before keeps its own values.
	mirrors := slices.Clone(c.layout.mirrors)
	for i := range mirrors {
		e := &mirrors[i]
		prefix := e.envPrefix()
		getMirrorEnv := func(key string) string {
			if prefix == "" {
				return ""
			}
			return getenv(envVar(prefix, key))
		}
		for _, s := range secretFields(&e.Twitter, &e.Renren, &e.Mastodon, &e.Bluesky) {
			if !want(s.key) {
				continue
			}
			if e.own[s.key] || e.own[s.key+"_file"] {
				if err := s.resolve(e.Path+".", dir, getenv, files); err != nil {
					return err
				}
				if *s.value == "" { // set to "" in the mirror: no default
					*s.value = Secret(getMirrorEnv(s.key))
				}
				continue
			}
			if v := getMirrorEnv(s.key); v != "" {
				*s.value, *s.file = Secret(v), ""
				continue
			}
			// s holds the top-level value and file, errors name them.
			if err := s.resolve("", dir, getenv, files); err != nil {
				return err
			}
			if *s.value == "" {
				*s.value = Secret(getenv(envVar(topEnvPrefix, s.key)))
			}
		}
	}
	lay := *c.layout
	lay.mirrors = mirrors
	c.layout = &lay
	return nil
}
