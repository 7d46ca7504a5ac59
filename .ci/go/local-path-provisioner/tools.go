//go:build tools

// Package tools pins the storage provisioner the one-node cluster runs as a host process, so a
// PersistentVolumeClaim is bound as on kind (which ships the same provisioner).
package tools

import _ "github.com/rancher/local-path-provisioner"
