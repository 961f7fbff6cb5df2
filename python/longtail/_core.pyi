# Type stub of the compiled module longtail._core (rust/python).
# Each section is owned by one area; keep them in this order.

__version__: str

class LongtailValueError(ValueError): ...
class LongtailTypeError(TypeError): ...

def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...

# --- samplers ---

# --- metrics ---

# --- streaming ---

# --- cluster ---
