package redact

import (
	"net/netip"
	"strings"
)

// Hand-written scanners for the shapes that occur, or nearly occur, in
// almost every string: a regexp would try them at every byte. Each returns
// candidate spans as [start, end] pairs; the detector's accept function then
// checks the neighbours exactly as it would for a regexp match.

// eachRun calls f with the bounds of every maximal run of bytes in the set.
func eachRun(s string, in func(c byte) bool, f func(start, end int)) {
	start := -1
	for i := 0; i <= len(s); i++ {
		if i < len(s) && in(s[i]) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			f(start, i)
			start = -1
		}
	}
}

// runs returns the maximal runs of bytes in the set that are at least min
// bytes long.
func runs(s string, in func(c byte) bool, min int) [][]int {
	var out [][]int
	eachRun(s, in, func(start, end int) {
		if end-start >= min {
			out = append(out, []int{start, end})
		}
	})
	return out
}

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func isBase64(c byte) bool { return isAlnum(c) || c == '/' || c == '+' }

// runsOfLength keeps the runs of exactly n bytes: a longer run is a longer
// token, and the token rule would reject any part of it.
func runsOfLength(s string, in func(c byte) bool, n int) [][]int {
	var out [][]int
	eachRun(s, in, func(start, end int) {
		if end-start == n {
			out = append(out, []int{start, end})
		}
	})
	return out
}

func findDigits12(s string) [][]int { return runsOfLength(s, isDigit, 12) }

func findBase64x40(s string) [][]int { return runsOfLength(s, isBase64, 40) }

func findGUID(s string) [][]int {
	var out [][]int
	for _, r := range runsOfLength(s, func(c byte) bool { return isHex(c) || c == '-' }, 36) {
		g := s[r[0]:r[1]]
		ok := true
		for i := 0; i < len(g); i++ {
			if dash := i == 8 || i == 13 || i == 18 || i == 23; dash != (g[i] == '-') {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}

// dashHex8 reports whether s has a '-' followed by 8 lower-case hex digits,
// which every AWS resource id has.
func dashHex8(s string) bool {
	for i := strings.IndexByte(s, '-'); i >= 0 && i+8 < len(s); {
		n := 0
		for n < 8 && (isDigit(s[i+1+n]) || s[i+1+n] >= 'a' && s[i+1+n] <= 'f') {
			n++
		}
		if n == 8 {
			return true
		}
		j := strings.IndexByte(s[i+1:], '-')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

// findIPv4 returns the addresses (with their /prefix when it is valid) in
// runs of digits, dots and slashes. A run that does not start with an
// address ("1.2.3.4.5", a version) yields nothing.
func findIPv4(s string) [][]int {
	var out [][]int
	for _, r := range runs(s, func(c byte) bool { return isDigit(c) || c == '.' || c == '/' }, 7) {
		start, end := r[0], r[1]
		for end > start && (s[end-1] == '.' || s[end-1] == '/') {
			end--
		}
		if end-start < 7 || !isDigit(s[start]) {
			continue
		}
		if p, err := netip.ParsePrefix(s[start:end]); err == nil && p.Addr().Is4() {
			out = append(out, []int{start, end})
			continue
		}
		addrEnd := start + strings.IndexByte(s[start:end]+"/", '/')
		if a, err := netip.ParseAddr(s[start:addrEnd]); err == nil && a.Is4() {
			out = append(out, []int{start, addrEnd})
		}
	}
	return out
}

func ipv6Hint(s string) bool {
	return strings.Contains(s, "::") || strings.Count(s, ":") >= 7
}

// findIPv6 returns the runs of hex digits, colons, dots and slashes that
// hold a colon; acceptIPv6 decides with net/netip.
func findIPv6(s string) [][]int {
	var out [][]int
	for _, r := range runs(s, func(c byte) bool { return isHex(c) || c == ':' || c == '.' || c == '/' }, 2) {
		start, end := r[0], r[1]
		for end > start && s[end-1] == '.' {
			end--
		}
		v := s[start:end]
		if !strings.Contains(v, ":") {
			continue
		}
		if _, err := netip.ParsePrefix(v); err == nil {
			out = append(out, []int{start, end})
			continue
		}
		if i := strings.IndexByte(v, '/'); i >= 0 {
			end = start + i
		}
		out = append(out, []int{start, end})
	}
	return out
}

func isHostByte(c byte) bool { return isAlnum(c) || c == '.' || c == '-' }

// findHosts returns the runs of host characters that are DNS names: two or
// more labels of letters, digits and inner hyphens, ending with a label of
// letters.
func findHosts(s string) [][]int {
	var out [][]int
	for _, r := range runs(s, isHostByte, 4) {
		start, end := r[0], r[1]
		for end > start && s[end-1] == '.' {
			end--
		}
		if end <= start || s[start] == '.' || s[start] == '-' || !validHost(s[start:end]) {
			continue
		}
		out = append(out, []int{start, end})
	}
	return out
}

func validHost(h string) bool {
	labels := strings.Split(h, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
	}
	tld := labels[len(labels)-1]
	if len(tld) < 2 || len(tld) > 24 {
		return false
	}
	for i := 0; i < len(tld); i++ {
		if !(tld[i] >= 'a' && tld[i] <= 'z' || tld[i] >= 'A' && tld[i] <= 'Z') {
			return false
		}
	}
	return true
}

// awsIDPrefixes are the EC2 and VPC resource id prefixes (i-, sg-, vol-...).
var awsIDPrefixes = map[string]bool{
	"i": true, "sg": true, "vol": true, "snap": true, "ami": true, "vpc": true, "subnet": true,
	"eni": true, "igw": true, "eigw": true, "nat": true, "rtb": true, "acl": true, "eipalloc": true,
	"lt": true, "pcx": true, "tgw": true, "tgw-attach": true, "vpce": true, "dopt": true,
	"fs": true, "sgr": true,
}

func isNameByte(c byte) bool { return isAlnum(c) || c == '_' || c == '-' }

// findAWSID returns the AWS resource ids: a known prefix, '-', and 8 (old)
// or 17 (new) lower-case hex digits, as a whole name token.
func findAWSID(s string) [][]int {
	var out [][]int
	for _, r := range runs(s, isNameByte, 10) {
		tok := s[r[0]:r[1]]
		dash := strings.LastIndexByte(tok, '-')
		if dash <= 0 || !awsIDPrefixes[tok[:dash]] {
			continue
		}
		hex := tok[dash+1:]
		if len(hex) != 8 && len(hex) != 17 {
			continue
		}
		ok := true
		for i := 0; i < len(hex); i++ {
			if !isDigit(hex[i]) && !(hex[i] >= 'a' && hex[i] <= 'f') {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}

// asciiLower lower-cases ASCII letters only, so byte offsets stay valid.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// findKeyValues finds "<key><sep><value>" where the key ends with a
// credential keyword, case-insensitively. Each match is given as
// [keyword start, end, separator start, end, value start, end].
func findKeyValues(s string) [][]int {
	low := asciiLower(s)
	var out [][]int
	for _, kw := range credentialKeys {
		for from := 0; ; {
			i := strings.Index(low[from:], kw)
			if i < 0 {
				break
			}
			start := from + i
			end := start + len(kw)
			from = start + 1
			// "sig" only as a whole key ("sig=", "&sig="), not "design=".
			if kw == "sig" && start > 0 && (isAlnum(s[start-1]) || s[start-1] == '_') {
				continue
			}
			m := keyValueTail.FindStringSubmatchIndex(s[end:])
			if m == nil {
				continue
			}
			out = append(out, []int{start, end + m[1], end + m[2], end + m[3], end + m[4], end + m[5]})
		}
	}
	return out
}
