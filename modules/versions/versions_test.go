package versions

import (
	"strings"
	"testing"
)

func TestPins(t *testing.T) {
	if errPin != nil {
		t.Fatal(errPin)
	}
	if got := Get("cert_manager", "version"); got != "v1.21.2" {
		t.Errorf("cert_manager.version = %q, want v1.21.2 (the version the tests install)", got)
	}
	for _, k := range Keys() {
		v := All()[k]
		if strings.EqualFold(v, "latest") || v == "" || strings.ContainsAny(v, "*^~><") {
			t.Errorf("%s = %q: pins must be exact versions", k, v)
		}
	}
	if _, err := Lookup("cert_manager", "nope"); err == nil {
		t.Error("Lookup of a missing pin returned no error")
	}
}
