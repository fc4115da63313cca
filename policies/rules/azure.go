package rules

import (
	"fmt"
	"strconv"
	"strings"
)

const (
	azureStorageAccount = "azure-native:storage:StorageAccount"
	azureProvider       = "pulumi:providers:azure-native"
)

func azureStorageSecure() Rule {
	return Rule{
		Name: "azure-storage-secure",
		Description: "Azure storage accounts set enableHttpsTrafficOnly true, minimumTlsVersion TLS1_2 or newer " +
			"and allowBlobPublicAccess false explicitly.",
		Provider: "azure",
		Level:    Mandatory,
		Properties: []Property{{
			Name: "minimumTlsVersion", Type: "string",
			Description: "lowest acceptable minimumTlsVersion (TLS1_0, TLS1_1, TLS1_2, TLS1_3)",
			Default:     "TLS1_2",
		}},
		Check: func(r Resource, cfg Config) []Violation {
			if canonicalType(r.Type) != azureStorageAccount {
				return nil
			}
			p := r.Properties
			var vs []Violation
			if v := p["enableHttpsTrafficOnly"]; !IsUnknown(v) {
				if b, ok := asBool(v); !ok || !b {
					vs = append(vs, Violation{
						Message:     "enableHttpsTrafficOnly is not true.",
						Remediation: "set enableHttpsTrafficOnly to true.",
					})
				}
			}
			want := cfg.String("minimumTlsVersion")
			if v := p["minimumTlsVersion"]; !IsUnknown(v) {
				got, _ := asString(v)
				if tlsVersion(got) < tlsVersion(want) {
					msg := "minimumTlsVersion is not set (the API version's default applies)."
					if got != "" {
						msg = fmt.Sprintf("minimumTlsVersion is %q, below %q.", got, want)
					}
					vs = append(vs, Violation{
						Message:     msg,
						Remediation: fmt.Sprintf("set minimumTlsVersion to %q.", want),
					})
				}
			}
			if v := p["allowBlobPublicAccess"]; !IsUnknown(v) {
				if b, ok := asBool(v); !ok || b {
					vs = append(vs, Violation{
						Message:     "allowBlobPublicAccess is not false.",
						Remediation: "set allowBlobPublicAccess to false.",
					})
				}
			}
			return vs
		},
	}
}

// tlsVersion turns "TLS1_2" into 1.2 (0 if unparseable).
func tlsVersion(s string) float64 {
	s = strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "TLS")
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", "."), 64)
	if err != nil {
		return 0
	}
	return f
}

// normalizeLocation makes "East US" and "eastus" compare equal.
func normalizeLocation(s string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
}

func azureAllowedLocations() Rule {
	return Rule{
		Name:        "azure-allowed-locations",
		Description: "Azure resources and providers use only allowed locations.",
		Provider:    "azure",
		Level:       Advisory,
		Properties: []Property{{
			Name: "allowedLocations", Type: "array", Items: "string",
			Description: "Azure locations resources may use (compared case- and space-insensitively; \"global\" is always allowed)",
			Default:     stringsDefault("eastus", "eastus2", "westus2", "westeurope", "northeurope"),
		}},
		Check: func(r Resource, cfg Config) []Violation {
			if r.Type != azureProvider && !strings.HasPrefix(r.Type, "azure-native:") {
				return nil
			}
			loc, ok := asString(r.Properties["location"])
			if !ok || loc == "" || normalizeLocation(loc) == "global" {
				return nil
			}
			allowed := cfg.Strings("allowedLocations")
			for _, a := range allowed {
				if normalizeLocation(a) == normalizeLocation(loc) {
					return nil
				}
			}
			field := "location"
			if r.Type == azureProvider {
				field = "the provider's location (stack config azure-native:location)"
			}
			return []Violation{{
				Message: fmt.Sprintf("location %q is not an allowed location (%s).", loc, quoteList(allowed)),
				Remediation: fmt.Sprintf("set %s to an allowed location, or add it to allowedLocations in the policy config.",
					field),
			}}
		},
	}
}
