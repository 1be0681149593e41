package redact

import (
	"regexp"
	"strings"
)

// topLevel are the top-level domains a host name must end with to be taken
// for one. The list is short on purpose: file names ("main.go", "policy.json",
// "run.sh", "README.md") and Azure types ("Microsoft.Compute") end with
// words that are also rare TLDs, and those are left out, as is "id"
// (Terraform's "aws_subnet.main.id"). "internal", "local",
// "corp" and "lan" cover private DNS (GCP's *.internal, AD domains).
var topLevel = map[string]bool{
	"com": true, "net": true, "org": true, "io": true, "dev": true, "app": true, "cloud": true,
	"co": true, "ai": true, "gov": true, "edu": true, "mil": true, "int": true, "info": true,
	"biz": true, "tech": true, "online": true, "site": true, "xyz": true, "aws": true,
	"eu": true, "us": true, "uk": true, "de": true, "fr": true, "es": true, "nl": true,
	"be": true, "ch": true, "at": true, "se": true, "no": true, "dk": true, "fi": true,
	"pl": true, "cz": true, "ie": true, "pt": true, "gr": true, "ru": true, "ua": true,
	"cn": true, "jp": true, "kr": true, "in": true, "au": true, "nz": true, "ca": true,
	"br": true, "mx": true, "ar": true, "za": true, "sg": true, "hk": true, "tw": true,
	"il": true, "tr": true, "my": true, "ph": true, "vn": true, "th": true,
	"internal": true, "local": true, "corp": true, "lan": true, "intranet": true,
	"localdomain": true, "test": true,
}

// publicDomains are sites whose every host is public (vendor documentation,
// standards bodies, code hosting): naming them identifies no customer, and
// the links in check descriptions (../shared/data/prowler/checks) point
// mostly there.
var publicDomains = []string{
	"amazon.com", "amazon.cn", "repost.aws", "aws.dev",
	"microsoft.com", "microsoftonline.com", "azure.microsoft.com", "windows.com", "office.com",
	"google.com", "cloud.google.com", "gstatic.com", "withgoogle.com",
	"github.com", "githubusercontent.com", "gitlab.com", "bitbucket.org",
	"prowler.com", "sophos.com", "trendmicro.com", "icompaas.com", "tenable.com",
	"cisecurity.org", "nist.gov", "owasp.org", "mitre.org", "pcisecuritystandards.org",
	"iso.org", "hhs.gov", "aicpa.org", "cloudsecurityalliance.org", "cve.org",
	"terraform.io", "hashicorp.com", "kubernetes.io", "docker.com", "golang.org", "go.dev",
	"slack.com", "openai.com", "stackoverflow.com", "medium.com", "wikipedia.org",
	"example.com", "example.org", "example.net",
}

// providerSuffixes are cloud provider domains under which customers get
// their own names. The number is how many labels a provider endpoint has in
// front of the suffix: "s3.amazonaws.com" (1) is the service, while
// "acme-prod.s3.amazonaws.com" (2) names a bucket; "blob.core.windows.net"
// is Azure's endpoint, "acme.blob.core.windows.net" a storage account. A 0
// means every host under it is a customer's (*.azurewebsites.net).
var providerSuffixes = map[string]int{
	"amazonaws.com": 1, "amazonaws.com.cn": 1, "amazonaws.cn": 1, "api.aws": 1,
	"core.windows.net": 1, "windows.net": 1, "azure.com": 1, "azure.net": 1,
	"management.azure.com": 1, "googleapis.com": 1, "cloudfunctions.net": 0,
	"vault.azure.net": 0, "database.windows.net": 0, "servicebus.windows.net": 0,
	"redis.cache.windows.net": 0, "documents.azure.com": 0, "azurewebsites.net": 0,
	"cloudapp.net": 0, "cloudapp.azure.com": 0, "azurecr.io": 0, "azureedge.net": 0,
	"azure-devices.net": 0, "cloudfront.net": 0, "awsapps.com": 0, "elasticbeanstalk.com": 0,
	"appspot.com": 0, "run.app": 0, "web.app": 0, "firebaseapp.com": 0, "firebaseio.com": 0,
	"herokuapp.com": 0,
}

// regionLabel matches AWS region labels such as us-east-1 or us-gov-west-1:
// "logs.eu-central-1.amazonaws.com" is still a service endpoint.
var regionLabel = regexp.MustCompile(`^[a-z]{2}(?:-[a-z]+)+-[0-9]$`)

// acceptHost keeps a host-name match only when it names a customer thing.
func acceptHost(s string, start, end int) (int, int, bool) {
	b, a := before(s, start), after(s, end)
	if isAlnum(b) || b == '_' || b == '-' || b == '.' || isAlnum(a) || a == '_' || a == '-' {
		return 0, 0, false
	}
	if !customerHost(s[start:end]) {
		return 0, 0, false
	}
	return start, end, true
}

// customerHost reports whether host (already shaped like a DNS name) names
// a customer's thing rather than a provider endpoint or a public site.
func customerHost(host string) bool {
	dot := strings.LastIndexByte(host, '.')
	// A TLD in capitals is more likely a sentence without a space ("in.US").
	if dot < 0 || !topLevel[host[dot+1:]] {
		return false
	}
	h := strings.ToLower(host)
	for _, d := range publicDomains {
		if h == d || strings.HasSuffix(h, "."+d) {
			return false
		}
	}
	// The longest provider suffix decides.
	best, allowed := "", 0
	for suf, n := range providerSuffixes {
		if (h == suf || strings.HasSuffix(h, "."+suf)) && len(suf) > len(best) {
			best, allowed = suf, n
		}
	}
	if best == "" {
		return true
	}
	rest := strings.TrimSuffix(strings.TrimSuffix(h, best), ".")
	if rest == "" {
		return false
	}
	labels := strings.Split(rest, ".")
	if len(labels) <= allowed {
		return false
	}
	// service.region.amazonaws.com is still the service.
	if allowed == 1 && len(labels) == 2 && regionLabel.MatchString(labels[1]) {
		return false
	}
	return true
}
