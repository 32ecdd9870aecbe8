"""A minimal BentoML 1.1 service: POST text to /greet, get a greeting back."""
import bentoml
from bentoml.io import Text

svc = bentoml.Service("hello")


@svc.api(input=Text(), output=Text())
def greet(name: str) -> str:
    return f"Hello, {name}!"
