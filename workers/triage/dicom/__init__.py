"""The pure DICOM layer of the triage domain: header checks, de-identification, pixel decode, thumbnails.

No database, no broker, no file paths: bytes in, datasets, arrays and safe strings out. Import the submodules
directly (`inspect`, `deid`, `pixels`, `thumbnail`); this package imports nothing so that importing
`workers.triage` stays light.
"""
