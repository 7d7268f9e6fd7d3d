// vg_streams: C++ string streams and conversions: ostringstream, istringstream, std::to_string,
// std::stoi, string growth past the small-string buffer; cout's own buffer is not used.
#include <sstream>
#include <string>

void* volatile g_sink;

int main() {
  long sum = 0;
  for (int i = 0; i < 50; ++i) {
    std::ostringstream out;
    for (int j = 0; j < 40; ++j) out << "value " << i * j << ' ';
    std::string text = out.str();
    std::istringstream in(text);
    std::string word;
    while (in >> word) {
      if (word != "value") sum += std::stoi(word);
    }
    std::string number = std::to_string(i) + std::string(40, '0');
    g_sink = &number;
  }
  return sum > 0 ? 0 : 1;
}
