module github.com/nftgo/nftgo

go 1.26.8

require (
	github.com/alecthomas/participle/v2 v2.1.4
	github.com/google/go-cmp v0.7.0
	github.com/google/gopacket v1.1.19
	golang.org/x/sys v0.0.0-20190412213103-97732733099d
)

require golang.org/x/net v0.0.0-20190620200207-3b0461eec859 // indirect
