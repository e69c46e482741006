"""The bundled demo: synthetic ad pages written for triage, served on loopback (see site.py).

Every page here is fiction written for this project: invented names, `.example` domains, phone
numbers from ranges reserved for drama (AU 0491 570 xxx, UK 07700 900 xxx, FR 01 99 00 xx xx) and
a wallet address generated from a hash of a made-up string (checksum-valid, nobody's key).
"""
