"""How a processing job loads ``pipeline_code`` from the ``CodeUrl`` zip, whatever the zip's file name.

The job runs ``python3 -c BOOTSTRAP <zip glob> <expected sha256> pipeline_code.<step> <step args...>``. The
bootstrap finds the one zip, checks its SHA-256 against the ``CodeSha256`` parameter (a mismatch or a missing
zip ends the job before any step code runs, with both hashes in the message), puts the zip first on
``sys.path`` and runs the module as ``__main__`` with the step's own arguments.

SageMaker caps each entrypoint and argument string at 256 characters, hence the terse source.
"""
from __future__ import annotations

MAX_ARGUMENT_CHARS = 256  # ContainerEntrypointString / ContainerArgument in the SageMaker API

BOOTSTRAP = (
    "import glob,hashlib,runpy,sys\n"
    "a=sys.argv;z=glob.glob(a[1]);h=len(z)==1 and hashlib.sha256(open(*z,'rb').read()).hexdigest()\n"
    "h==a[2]or sys.exit(f'{z}: sha256 {h} != CodeSha256 {a[2]}')\n"
    "sys.path[:0]=z;del a[:3];runpy.run_module(a[0],run_name='__main__')"
)

ENTRYPOINT = ["python3", "-c", BOOTSTRAP]


def container_arguments(code_dir: str, expected_sha256, module: str, args: list) -> list:
    """The job's ContainerArguments: where the zip is, the hash it must have (a pipeline expression, so
    it resolves per execution), the module and its arguments."""
    return [f"{code_dir}/*.zip", expected_sha256, module, *args]
