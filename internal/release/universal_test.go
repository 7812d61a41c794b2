package main

import (
	"archive/zip"
	"bytes"
	"debug/macho"
	"encoding/binary"
	"io"
	"os"
	"slices"
	"testing"
)

// thinMachO returns a minimal Mach-O executable of cpu: a 64-bit header
// with no load commands, which debug/macho reads, followed by body.
func thinMachO(cpu macho.Cpu, sub uint32, body string) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, macho.FileHeader{
		Magic:  macho.Magic64,
		Cpu:    cpu,
		SubCpu: sub,
		Type:   macho.TypeExec,
	})
	binary.Write(&b, binary.LittleEndian, uint32(0)) // reserved field of mach_header_64
	b.WriteString(body)
	return b.Bytes()
}

// checkUniversal parses a universal Mach-O and checks that it holds
// exactly thin, in order, each aligned and copied byte for byte.
func checkUniversal(t *testing.T, fat []byte, thin ...[]byte) {
	t.Helper()
	ff, err := macho.NewFatFile(bytes.NewReader(fat))
	if err != nil {
		t.Fatalf("not a universal Mach-O: %v", err)
	}
	if len(ff.Arches) != len(thin) {
		t.Fatalf("%d architectures, want %d", len(ff.Arches), len(thin))
	}
	for i, a := range ff.Arches {
		want, err := macho.NewFile(bytes.NewReader(thin[i]))
		if err != nil {
			t.Fatal(err)
		}
		if a.Cpu != want.Cpu || a.SubCpu != want.SubCpu {
			t.Errorf("slice %d: CPU %v/%d, want %v/%d", i, a.Cpu, a.SubCpu, want.Cpu, want.SubCpu)
		}
		if a.Align != universalAlign || a.Offset%(1<<universalAlign) != 0 {
			t.Errorf("slice %d: offset %d, align 2^%d; want a multiple of 2^%d", i, a.Offset, a.Align, universalAlign)
		}
		if got := fat[a.Offset : a.Offset+a.Size]; !bytes.Equal(got, thin[i]) {
			t.Errorf("slice %d is not the thin binary byte for byte", i)
		}
	}
}

func TestWriteUniversal(t *testing.T) {
	amd := thinMachO(macho.CpuAmd64, 3, "amd64 code")
	arm := thinMachO(macho.CpuArm64, 0, "arm64 code, a little longer")
	var fat bytes.Buffer
	if err := writeUniversal(&fat, amd, arm); err != nil {
		t.Fatal(err)
	}
	checkUniversal(t, fat.Bytes(), amd, arm)
	if want := 2<<universalAlign + len(arm); fat.Len() != want {
		t.Errorf("size %d, want %d (two aligned slices, nothing after the last)", fat.Len(), want)
	}

	var again bytes.Buffer
	if err := writeUniversal(&again, amd, arm); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fat.Bytes(), again.Bytes()) {
		t.Error("two universal binaries of the same slices differ")
	}

	notExec := thinMachO(macho.CpuArm64, 0, "")
	notExec[12] = byte(macho.TypeDylib)
	tests := []struct {
		name string
		thin [][]byte
	}{
		{"one slice", [][]byte{amd}},
		{"the same CPU twice", [][]byte{amd, amd}},
		{"not Mach-O", [][]byte{amd, []byte("#!/bin/sh\n")}},
		{"not an executable", [][]byte{amd, notExec}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := writeUniversal(io.Discard, tt.thin...); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// TestBundleUniversalMacOS checks, in a release with both macOS binaries,
// that the bundle's macOS executable is the universal binary of the two.
func TestBundleUniversalMacOS(t *testing.T) {
	amd, arm := target{"darwin", "amd64"}, target{"darwin", "arm64"}
	checked := false
	for _, f := range fixtures(t) {
		if !slices.Contains(f.Targets, amd) || !slices.Contains(f.Targets, arm) {
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			zr, err := zip.OpenReader(f.bundlePath())
			if err != nil {
				t.Fatal(err)
			}
			defer zr.Close()
			rc, err := zr.Open(bundleDarwin)
			if err != nil {
				t.Fatal(err)
			}
			fat, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			var thin [][]byte
			for _, tg := range []target{amd, arm} {
				b, err := os.ReadFile(f.binaryPath(tg))
				if err != nil {
					t.Fatal(err)
				}
				thin = append(thin, b)
			}
			checkUniversal(t, fat, thin...)
		})
		checked = true
	}
	if !checked {
		t.Skipf("no release with both macOS binaries (set %s=all, or %s)", envTargets, envDist)
	}
}
