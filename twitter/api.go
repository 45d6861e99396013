package twitter

import (
	"fmt"
	"net/url"
	"strings"
)

// API versions for Options.API.
const (
	APIv2  = "v2"
	APIv11 = "v1.1"
)

// xHosts are the hosts of X's own API. Since 2023 X answers v1.1 timeline
// and posting requests there with 403 / code 453 on the Free and Basic
// tiers, so an unversioned config pointing at them means v2.
var xHosts = map[string]bool{"api.x.com": true, "api.twitter.com": true}

// ResolveAPI returns the API version and base URL that api and apiBase
// (as configured; either may be empty) mean:
//
//   - api "" picks v2 when apiBase is empty or on api.x.com or
//     api.twitter.com, and v1.1 for any other server (GNU social,
//     Friendica, Fanfou, proxies);
//   - an empty apiBase is DefaultV2Base for v2 and DefaultAPIBase for v1.1;
//   - on the X hosts, a base whose path is "/" or the other version's
//     ("/1.1/" or "/2/") is moved to the chosen version's path, so that an
//     old config with api_base = "https://api.twitter.com/1.1/" keeps
//     working on v2.
//
// The base comes back absolute with a trailing slash.
func ResolveAPI(api, apiBase string) (string, *url.URL, error) {
	var base *url.URL
	if apiBase != "" {
		u, err := parseBase(apiBase)
		if err != nil {
			return "", nil, fmt.Errorf("api base %q: %w", apiBase, err)
		}
		base = u
	}
	onX := base == nil || xHosts[strings.ToLower(base.Hostname())]
	switch api {
	case "":
		api = APIv11
		if onX {
			api = APIv2
		}
	case APIv2, APIv11:
	default:
		return "", nil, fmt.Errorf("unknown api %q: want %q or %q", api, APIv2, APIv11)
	}
	def, path, other := DefaultV2Base, "/2/", "/1.1/"
	if api == APIv11 {
		def, path, other = DefaultAPIBase, "/1.1/", "/2/"
	}
	if base == nil {
		u, err := url.Parse(def)
		if err != nil {
			return "", nil, err
		}
		return api, u, nil
	}
	if onX && (base.Path == "/" || base.Path == other) {
		base.Path, base.RawPath = path, ""
	}
	return api, base, nil
}

// oauthBase is where the OAuth 1.0a token endpoints live for an API base:
// beside the versioned root, as on X (api.x.com/oauth/request_token next
// to api.x.com/2/) and StatusNet-style servers (/api/oauth/ next to
// /api/, which has no version segment).
func oauthBase(base *url.URL) *url.URL {
	u := *base
	for _, v := range []string{"1.1/", "2/"} {
		if strings.HasSuffix(u.Path, "/"+v) {
			u.Path = strings.TrimSuffix(u.Path, v)
			u.RawPath = ""
			break
		}
	}
	u.Path += "oauth/"
	return &u
}
