"""Wraps an HTJ2K codestream (from ojph_compress) into a DICOM file, for the decode benchmark.

usage: python3 wrap-htj2k.py uncompressed.dcm codestream.j2c out.dcm transfer-syntax-uid

Every attribute is copied from the uncompressed source; only Pixel Data (now encapsulated, one
fragment, a Basic Offset Table holding its offset 0) and the transfer syntax change. pydicom does
the encoding, so the file is written by an independent implementation, not by the project's code.
"""
import sys

from pydicom import dcmread
from pydicom.encaps import encapsulate
from pydicom._uid_dict import UID_dictionary
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID

source, codestream, out, syntax = sys.argv[1:5]
# pydicom 2.x predates the HTJ2K transfer syntaxes (2023): declare the one used so that the
# writer treats it as an encapsulated transfer syntax.
UID_dictionary.setdefault(syntax, ("HTJ2K", "Transfer Syntax", "", "", "HTJ2K"))
ds = dcmread(source)
with open(codestream, "rb") as f:
    data = f.read()
ds.PixelData = encapsulate([data])
ds["PixelData"].VR = "OB"
ds["PixelData"].is_undefined_length = True
ds.file_meta.TransferSyntaxUID = UID(syntax)
ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
if "ImplementationVersionName" in ds.file_meta:
    del ds.file_meta.ImplementationVersionName
ds.is_little_endian = True
ds.is_implicit_VR = False
ds.save_as(out, write_like_original=False)
